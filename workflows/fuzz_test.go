package workflows

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// FuzzDecodeSignal decodes arbitrary bytes under an arbitrary encoding into
// every signal payload the workflow takes, as a signal from the temporal CLI
// or any client could carry them. Decoding never panics; a refusal is a
// short UTF-8 reason (it is recorded in history and status); an accepted
// payload, once its free text is clipped as the workflow clips it, is
// bounded UTF-8 that the status query can encode.
func FuzzDecodeSignal(f *testing.F) {
	type seed struct {
		encoding string
		data     string
		// noMetadata sends a payload without an encoding at all.
		noMetadata bool
	}
	for _, s := range []seed{
		{"json/plain", `{"step": 2, "by": "alice"}`, false},
		{"json/plain", `{"reason": "p95 too high", "by": "bob"}`, false},
		{"json/plain", `{}`, false},
		{"json/plain", `null`, false},
		{"json/plain", ``, false},
		{"json/plain", `"just a string"`, false},
		{"json/plain", `[1, 2, 3]`, false},
		{"json/plain", `{"step": "2"}`, false},
		{"json/plain", `{"step": 2.5}`, false},
		{"json/plain", `{"step": 1e400}`, false},
		{"json/plain", `{"step": NaN}`, false},
		{"json/plain", `{"step": -9223372036854775809}`, false},
		{"json/plain", `{"step": 9223372036854775807, "by": null}`, false},
		{"json/plain", `{"by": "` + strings.Repeat("é", 600) + `"}`, false},
		{"json/plain", `{"reason": "` + strings.Repeat("x", 70000) + `"}`, false},
		{"json/plain", `{"by": "\ud800\udc00\ud800 \u0000 \u202e"}`, false},
		{"json/plain", "{\"by\": \"\xff\xfe\xed\xa0\x80\"}", false},
		{"json/plain", `{"by": "a", "by": "b", "BY": "c", "extra": {"nested": [1]}}`, false},
		{"json/plain", `{"by": "a"} {"by": "b"}`, false},
		{"json/plain", strings.Repeat("[", 100000), false},
		{"binary/null", ``, false},
		{"binary/null", `{"by": "x"}`, false},
		{"binary/plain", "\x00\x01\x02", false},
		{"json/protobuf", `{"by": "x"}`, false},
		{"binary/protobuf", "\x0a\x03abc", false},
		{"binary/encrypted", `{"by": "x"}`, false},
		{"JSON/PLAIN", `{"by": "x"}`, false},
		{"", `{"by": "x"}`, false},
		{"json/plain\x00", `{"by": "x"}`, false},
		{"", `{"by": "x"}`, true},
	} {
		f.Add(s.encoding, []byte(s.data), s.noMetadata)
	}

	f.Fuzz(func(t *testing.T, encoding string, data []byte, noMetadata bool) {
		p := &commonpb.Payload{Data: data}
		if !noMetadata {
			p.Metadata = map[string][]byte{converter.MetadataEncoding: []byte(encoding)}
		}
		raw := converter.NewRawValue(p)

		var approval rollout.Approval
		if checkDecoded(t, raw, &approval) {
			approval.By = by(approval.By)
			usable(t, approval.By, rollout.MaxByBytes)
			if approval.Step != nil {
				_ = fmt.Sprintf("step %d", *approval.Step)
			}
			encodes(t, approval)
		}
		var abort rollout.Abort
		if checkDecoded(t, raw, &abort) {
			abort.By, abort.Reason = by(abort.By), rollout.Clip(abort.Reason, rollout.MaxReasonBytes)
			usable(t, abort.By, rollout.MaxByBytes)
			usable(t, abort.Reason, rollout.MaxReasonBytes)
			encodes(t, abort)
		}
		var actor rollout.Actor
		if checkDecoded(t, raw, &actor) {
			actor.By = by(actor.By)
			usable(t, actor.By, rollout.MaxByBytes)
			encodes(t, actor)
		}
		var resolve rollout.Resolve
		if checkDecoded(t, raw, &resolve) {
			resolve.By, resolve.Reason = by(resolve.By), rollout.Clip(resolve.Reason, rollout.MaxReasonBytes)
			usable(t, resolve.By, rollout.MaxByBytes)
			usable(t, resolve.Reason, rollout.MaxReasonBytes)
			encodes(t, resolve)
		}
	})
}

// checkDecoded decodes raw into into and reports whether it was accepted;
// a refusal's reason must be fit for history: short UTF-8.
func checkDecoded(t *testing.T, raw converter.RawValue, into any) bool {
	t.Helper()
	err := decode(raw, into)
	if err == nil {
		return true
	}
	usable(t, err.Error(), 256)
	return false
}

// usable checks free text the workflow keeps: valid UTF-8 within max bytes.
func usable(t *testing.T, s string, limit int) {
	t.Helper()
	require.True(t, utf8.ValidString(s), "%q is not valid UTF-8", s)
	require.LessOrEqual(t, len(s), limit, "%q is longer than %d bytes", s, limit)
}

// encodes checks that v goes into the status query's JSON and comes back
// as it is.
func encodes[T any](t *testing.T, v T) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var back T
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, v, back, "%T survives the status query's JSON", v)
}

func TestDecodeWithoutPayloadLeavesZero(t *testing.T) {
	var a rollout.Abort
	require.NoError(t, decode(converter.NewRawValue(nil), &a))
	assert.Equal(t, rollout.Abort{}, a)
}

// clipCut matches the note Clip ends a cut text with.
var clipCut = regexp.MustCompile(`… \[(\d+) bytes cut\]$`)

// FuzzClip checks rollout.Clip, which bounds every piece of free text that
// enters the workflow: whatever the text and bound, the result is valid
// UTF-8 within the bound; text that fits is kept whole (invalid bytes
// replaced); text that does not is a prefix of it, followed by a note of
// its length when the note fits.
func FuzzClip(f *testing.F) {
	for _, s := range []struct {
		text string
		n    int
	}{
		{"alice", rollout.MaxByBytes},
		{"", 0},
		{"abc", 0},
		{"abc", -1},
		{strings.Repeat("x", 2000), rollout.MaxReasonBytes},
		{strings.Repeat("é", 200), rollout.MaxByBytes},
		{strings.Repeat("東", 100), 17},
		{strings.Repeat("😀", 100), 20},
		{"e\u0301\u0301\u0301\u202e\u200d", 5},
		{"\xff\xfe\xfd", 2},
		{"ab\xffcd\xed\xa0\x80", 7},
		{"\x00\x00\x00", 1},
		{"\uFFFD\uFFFD", 4},
		{strings.Repeat("x", 100), 1 << 30},
		{strings.Repeat("x", 100), -1 << 31},
		{"NaN", 3},
	} {
		f.Add(s.text, s.n)
	}

	f.Fuzz(func(t *testing.T, s string, n int) {
		got := rollout.Clip(s, n)
		require.True(t, utf8.ValidString(got), "Clip(%q, %d) = %q is not valid UTF-8", s, n, got)
		require.LessOrEqual(t, len(got), max(n, 0), "Clip(%q, %d) = %q is over the bound", s, n, got)

		var valid strings.Builder
		for _, r := range s { // invalid bytes read as U+FFFD
			valid.WriteRune(r)
		}
		whole := valid.String()
		if len(whole) <= n {
			require.Equal(t, whole, got, "text that fits is kept whole")
			return
		}
		if note := fmt.Sprintf("… [%d bytes cut]", len(whole)); len(note) <= n {
			require.True(t, strings.HasSuffix(got, note), "Clip(%q, %d) = %q says what was cut", s, n, got)
		}
		kept := got
		// A note that names another length is text that was kept.
		if m := clipCut.FindStringSubmatch(got); m != nil && m[1] == fmt.Sprint(len(whole)) {
			kept = strings.TrimSuffix(got, m[0])
		}
		require.True(t, strings.HasPrefix(whole, kept), "Clip(%q, %d) = %q keeps a prefix", s, n, got)
	})
}
