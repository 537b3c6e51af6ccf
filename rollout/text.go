package rollout

import (
	"fmt"
	"unicode/utf8"
)

// Bounds on free text that comes from people or from providers. Anything
// longer is cut where it enters the workflow, so a pasted log in an abort
// reason cannot grow the history, the status query, the incident report and
// every notification until Temporal terminates the rollout mid-rollback.
const (
	// MaxReasonBytes bounds a reason or note a person gives (abort, resolve).
	MaxReasonBytes = 1024
	// MaxByBytes bounds the name of who sent a signal.
	MaxByBytes = 128
	// MaxMessageBytes bounds one event message or error text kept in status.
	MaxMessageBytes = 2048
)

// Clip returns s cut to at most n bytes on a UTF-8 boundary, saying how much
// was cut, so a reader knows the text is not whole. Invalid UTF-8 is replaced
// so that what is kept always encodes as JSON text unchanged.
func Clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = toValidUTF8(s)
	}
	if len(s) <= n {
		return s
	}
	suffix := fmt.Sprintf("… [%d bytes cut]", len(s))
	if len(suffix) > n {
		suffix = ""
	}
	keep := max(n-len(suffix), 0)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + suffix
}

func toValidUTF8(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		out = append(out, r) // invalid bytes decode as utf8.RuneError
	}
	return string(out)
}
