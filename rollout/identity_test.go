package rollout

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkflowIDTable(t *testing.T) {
	for _, tc := range []struct{ ns, app, want string }{
		{"production", "shop", "canary-production.shop"},
		{"team-a", "web", "canary-team-a.web"},
		{"team", "a-web", "canary-team.a-web"},
		{"a.b", "c", "canary-a_2eb.c"},
		{"a", "b.c", "canary-a.b_2ec"},
		{"a_2eb", "c", "canary-a_5f2eb.c"},
		{"../x", "/y", "canary-_2e_2e_2fx._2fy"},
		{"", "", "canary-."},
		{"Team", "wéb", "canary-_54eam.w_c3_a9b"},
	} {
		assert.Equal(t, tc.want, WorkflowID(tc.ns, tc.app), "%q/%q", tc.ns, tc.app)
	}
	assert.NotEqual(t, WorkflowID("team-a", "web"), WorkflowID("team", "a-web"))
}

// splitWorkflowID inverts WorkflowID. That it recovers every pair is the
// proof that WorkflowID is injective.
func splitWorkflowID(t *testing.T, id string) (ns, app string) {
	t.Helper()
	rest, ok := strings.CutPrefix(id, workflowIDPrefix)
	require.True(t, ok, id)
	ns, app, ok = strings.Cut(rest, string(idSeparator))
	require.True(t, ok, id)
	require.NotContains(t, app, string(idSeparator), "one separator in %q", id)
	return unescape(t, ns, idEscape), unescape(t, app, idEscape)
}

func unescape(t *testing.T, s string, esc byte) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != esc {
			b.WriteByte(s[i])
			continue
		}
		require.LessOrEqual(t, i+3, len(s), "escape cut short in %q", s)
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		require.NoError(t, err, s)
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String()
}

// Every pair of strings of up to three characters from an alphabet full of
// separators and escapes: any scheme that is not injective collides here.
func TestWorkflowIDIsInjectiveExhaustively(t *testing.T) {
	alphabet := []string{"a", "-", ".", "/", "_", "2", "e", "~", "é"}
	words := []string{""}
	for n, last := 0, []string{""}; n < 3; n++ {
		var next []string
		for _, w := range last {
			for _, c := range alphabet {
				next = append(next, w+c)
			}
		}
		words, last = append(words, next...), next
	}
	seen := make(map[string][2]string, len(words)*len(words))
	for _, ns := range words {
		for _, app := range words {
			id := WorkflowID(ns, app)
			if prev, dup := seen[id]; dup {
				t.Fatalf("%q/%q and %q/%q share the ID %q", prev[0], prev[1], ns, app, id)
			}
			seen[id] = [2]string{ns, app}
		}
	}
}

func randomValue(r *rand.Rand) string {
	pieces := []string{"a", "z", "0", "-", ".", "/", "_", "%", "~", "..", "\x00", "é", "世", "\xff", "team", "canary-"}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func TestWorkflowIDRoundTripsRandomPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 3))
	seen := map[string][2]string{}
	for range 20000 {
		ns, app := randomValue(r), randomValue(r)
		id := WorkflowID(ns, app)
		gotNS, gotApp := splitWorkflowID(t, id)
		require.Equal(t, [2]string{ns, app}, [2]string{gotNS, gotApp}, "ID %q", id)
		if prev, dup := seen[id]; dup {
			require.Equal(t, prev, [2]string{ns, app}, "two pairs share the ID %q", id)
		}
		seen[id] = [2]string{ns, app}
		for i := 0; i < len(id); i++ {
			c := id[i]
			require.True(t, isLabelByte(c) || c == idSeparator || c == idEscape, "URL-safe ID %q", id)
		}
	}
}

func TestFileNameIsSafeAndInjective(t *testing.T) {
	long := strings.Repeat("x", 300)
	hostile := []string{
		"", ".", "..", "../../etc/x", "/abs", `C:\win`, "a/b", "a\x00b", "wéb", "UPPER", "upper",
		"canary-prod.shop", "019a-run", "%2e", "_", "~", long, long + "y", strings.Repeat("é", 200),
	}
	assert.Equal(t, "canary-prod.shop_019a-run", FileName("canary-prod.shop", "019a-run"))
	assert.Equal(t, "team-a_web_canary", FileName("team-a", "web", "canary"))
	assert.NotEqual(t, FileName("team-a", "web", "canary"), FileName("team", "a-web", "canary"))

	seen := map[string][2]string{}
	for _, a := range hostile {
		for _, b := range hostile {
			name := FileName(a, b)
			assert.LessOrEqual(t, len(name), maxFileName)
			assert.True(t, filepath.IsLocal(name+".md"), "%q is local", name)
			assert.NotContains(t, name, "/")
			assert.NotContains(t, name, `\`)
			assert.NotContains(t, name, "\x00")
			assert.False(t, strings.HasPrefix(name, "."), "%q is not hidden", name)
			assert.Equal(t, strings.ToLower(name), name, "one name on case-insensitive file systems")
			if prev, dup := seen[name]; dup {
				t.Errorf("%q and %q share the file name %q", fmt.Sprint(prev), fmt.Sprint([2]string{a, b}), name)
			}
			seen[name] = [2]string{a, b}
		}
	}
	short := FileName("canary-prod.shop", "r1")
	assert.NotContains(t, short, string(fileHashMark))
	assert.Contains(t, FileName(long, "r1"), string(fileHashMark), "a long name is shortened by its hash")
	assert.True(t, strings.HasPrefix(FileName(long, "r1"), "xxxx"), "and keeps its start")
}

func TestFileNameRoundTripsRandomParts(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 6))
	for range 20000 {
		a, b := randomValue(r), randomValue(r)
		name := FileName(a, b)
		if strings.ContainsRune(name, fileHashMark) {
			require.Len(t, name, maxFileName, "only a long name is shortened")
			continue
		}
		ea, eb, ok := strings.Cut(name, string(fileSeparator))
		require.True(t, ok, name)
		require.Equal(t, [2]string{a, b}, [2]string{unescape(t, ea, fileEscape), unescape(t, eb, fileEscape)}, "name %q", name)
	}
}
