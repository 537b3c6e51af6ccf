package rollout

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestClipBoundsTextOnARuneBoundary(t *testing.T) {
	assert.Equal(t, "short", Clip("short", 10))
	assert.Equal(t, strings.Repeat("a", 64), Clip(strings.Repeat("a", 64), 64), "at the bound nothing is cut")
	for _, in := range []string{strings.Repeat("a", 800*1024), strings.Repeat("é", 5000), strings.Repeat("日本", 3000), "\xff\xfe" + strings.Repeat("x", 5000)} {
		out := Clip(in, MaxReasonBytes)
		assert.LessOrEqual(t, len(out), MaxReasonBytes)
		assert.True(t, utf8.ValidString(out), "cut text stays valid UTF-8")
		assert.Contains(t, out, "bytes cut]")
	}
	assert.True(t, utf8.ValidString(Clip("\xff", 10)), "invalid UTF-8 is made valid even when short")
	assert.LessOrEqual(t, len(Clip(strings.Repeat("a", 100), 5)), 5, "a bound smaller than the note still holds")
}
