package rollout

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Every name derived from a rollout's identity (the workflow ID, the local
// deployer's state files, incident report files) must be injective: two
// different (namespace, app) pairs that shared a name would share a rollout,
// a state file or a report, and an action on one would hit the other
// ("canary-<ns>-<app>" once gave team-a/web and team/a-web one ID). Plain
// joining with a character the values may contain is never injective, so
// each value is escaped first: the characters a valid value consists of stay
// as they are (names read as before), anything else, including the escape
// character itself, becomes the escape character and two hex digits. The
// separator is never left unescaped inside a value, so splitting at it and
// unescaping recovers the values: the mapping is injective for any strings,
// not just the ones validation lets through.

const (
	workflowIDPrefix = "canary-"
	// idSeparator cannot occur in a DNS-1123 label, and it is unreserved in
	// URLs (RFC 3986), so the ID appears verbatim in the Temporal UI's
	// address bar and in `temporal workflow --workflow-id` arguments.
	idSeparator = '.'
	// idEscape is outside the DNS-1123 alphabet and URL-safe too; '%' would
	// be read as percent-encoding by browsers and proxies.
	idEscape = '_'

	fileSeparator = '_'
	// fileEscape is neither a path separator nor special to shells' globbing.
	fileEscape = '%'
	// fileHashMark never survives escaping, so a hash-shortened name cannot
	// equal a name that was short enough to be kept whole.
	fileHashMark = '~'
	// maxFileName leaves room for an extension such as ".json.tmp" under
	// the 255-byte name limit of Linux, macOS and Windows file systems.
	maxFileName = 200
)

// WorkflowID names the single rollout an app in a namespace may have at a
// time: "canary-<namespace>.<app>", for example "canary-production.shop".
// Namespace and app are DNS-1123 labels, which never contain a dot, so the
// dot tells where the namespace ends. Values validation would refuse are
// escaped rather than trusted (see the comment at the top of this file),
// because the workflow compares its own ID with WorkflowID of its spec to
// refuse starts under a foreign ID.
func WorkflowID(namespace, app string) string {
	var b strings.Builder
	b.WriteString(workflowIDPrefix)
	escapeInto(&b, namespace, isLabelByte, idEscape, false)
	b.WriteByte(idSeparator)
	escapeInto(&b, app, isLabelByte, idEscape, false)
	return b.String()
}

// FileName joins parts into one file name, injectively, for state files and
// reports named after outside input (a workflow ID, a run ID). The name has
// no path separator, never starts with a dot (so it is neither "." nor ".."
// nor hidden), uses only lower-case ASCII (so it stays distinct on
// case-insensitive file systems) and is at most 200 bytes, leaving room for
// the extension the caller appends. A longer name keeps its first bytes and
// ends in '~' and the SHA-256 of the whole, so it stays recognisable and
// distinct (barring a hash collision).
func FileName(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(fileSeparator)
		}
		escapeInto(&b, p, isFileByte, fileEscape, true)
	}
	name := b.String()
	if len(name) <= maxFileName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	digest := hex.EncodeToString(sum[:])
	return name[:maxFileName-1-len(digest)] + string(fileHashMark) + digest
}

// isLabelByte reports whether c may appear in a DNS-1123 label.
func isLabelByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
}

// isFileByte adds the dot to the label alphabet: workflow and run IDs hold
// dots, and a dot inside a file name is harmless.
func isFileByte(c byte) bool {
	return isLabelByte(c) || c == '.'
}

// escapeInto writes s with every byte that keep refuses (and a leading dot
// when noLeadingDot) as esc followed by two lower-case hex digits. It works
// on bytes, so NUL, invalid UTF-8 and multi-byte runes are all escaped.
func escapeInto(b *strings.Builder, s string, keep func(byte) bool, esc byte, noLeadingDot bool) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) && c != esc && !(noLeadingDot && i == 0 && c == '.') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(esc)
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
}
