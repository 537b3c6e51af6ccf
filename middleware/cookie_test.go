package middleware

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// stdCookie is what net/http's full parse answers, the reference the
// allocation-free scan must agree with.
func stdCookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

func withCookieLines(lines ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header["Cookie"] = lines
	return r
}

// hostileCookieHeaders are Cookie header line sets a client controls
// completely: huge, numerous, malformed, duplicated.
func hostileCookieHeaders() map[string][]string {
	many := func(n int, last string) string {
		var b strings.Builder
		for i := range n - 1 {
			fmt.Fprintf(&b, "c%d=v; ", i)
		}
		b.WriteString(last)
		return b.String()
	}
	return map[string][]string{
		"none":                      nil,
		"empty line":                {""},
		"only separators":           {" ; ;; ;"},
		"plain":                     {"canary=always"},
		"among others":              {"a=1; canary=never; b=2"},
		"spaces and tabs":           {" \t a=1 ;\t canary=always \t; "},
		"space before equals":       {"canary =always"},
		"space after equals":        {"canary= always"},
		"no equals":                 {"canary"},
		"empty value":               {"canary="},
		"quoted":                    {`canary="always"`},
		"open quote":                {`canary="always`},
		"close quote":               {`canary=always"`},
		"doubled quotes":            {`canary=""always""`},
		"quote inside":              {`canary=al"ways`},
		"lone quote":                {`canary="`},
		"backslash":                 {`canary=alw\ays`},
		"control byte":              {"canary=alw\x01ays"},
		"non-ASCII":                 {"canary=alwäys"},
		"duplicate, first wins":     {"canary=never; canary=always"},
		"duplicate, first bogus":    {"canary=bogus; canary=always"},
		"duplicate, first invalid":  {`canary=al"ways; canary=always`},
		"duplicate across lines":    {"canary=never", "canary=always"},
		"second line":               {"a=1", "canary=always"},
		"prefix name":               {"canary2=always; xcanary=always"},
		"case differs":              {"Canary=always"},
		"name with space":           {"can ary=always"},
		"value with equals":         {"canary=always=1"},
		"empty name":                {"=always; canary=never"},
		"huge valid value":          {"canary=" + strings.Repeat("a", 1<<20)},
		"huge invalid then real":    {"canary=" + strings.Repeat("\\", 1<<20) + "; canary=always"},
		"huge unrelated":            {"junk=" + strings.Repeat("x", 1<<20) + "; canary=always"},
		"3000 cookies":              {many(3000, "canary=always")},
		"3001 cookies":              {many(3001, "canary=always")},
		"3001 across lines":         {many(2000, "z=1"), many(1001, "canary=always")},
		"many semicolons":           {strings.Repeat(";", 5000) + "canary=always"},
		"invalid name token":        {"b@d=always"},
		"semicolon in quoted value": {`canary="al;ways"`},
	}
}

func TestCookieValueMatchesNetHTTP(t *testing.T) {
	for name, lines := range hostileCookieHeaders() {
		t.Run(name, func(t *testing.T) {
			r := withCookieLines(lines...)
			for _, cookie := range []string{"canary", "a", "c0", "junk", "can ary", "b@d", ""} {
				assert.Equal(t, stdCookie(r, cookie), cookieValue(r, cookie), "cookie %q", cookie)
			}
		})
	}
}

// TestCookieValueRandom compares the scan with net/http on random headers
// built from the bytes that matter to cookie parsing.
func TestCookieValueRandom(t *testing.T) {
	src := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte(`canry=;" \t\\aw` + "\x00\x7f\xc3")
	for i := range 20000 {
		b := make([]byte, src.IntN(40))
		for j := range b {
			b[j] = alphabet[src.IntN(len(alphabet))]
		}
		r := withCookieLines(string(b))
		assert.Equal(t, stdCookie(r, "canary"), cookieValue(r, "canary"), "case %d: %q", i, b)
	}
}

func FuzzCookieValue(f *testing.F) {
	for _, lines := range hostileCookieHeaders() {
		if len(lines) == 1 && len(lines[0]) < 200 {
			f.Add(lines[0], "", "canary")
		}
	}
	f.Add("canary=never", "canary=always", "canary")
	f.Fuzz(func(t *testing.T, line1, line2, name string) {
		lines := []string{line1}
		if line2 != "" {
			lines = append(lines, line2)
		}
		r := withCookieLines(lines...)
		if got, want := cookieValue(r, name), stdCookie(r, name); got != want {
			t.Fatalf("cookie %q in %q: got %q, net/http says %q", name, lines, got, want)
		}
	})
}

// TestSplitterHostileCookies is the precedence under cookies a client
// crafted: the first well-formed "canary" cookie decides, as r.Cookie would,
// and anything that is not always|never leaves the decision to the weight.
func TestSplitterHostileCookies(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string // at weight 0
	}{
		{"quoted always", []string{`canary="always"`}, VersionCanary},
		{"duplicate, first wins", []string{"canary=always; canary=never"}, VersionCanary},
		{"duplicate, first is not always|never", []string{"canary=bogus; canary=always"}, VersionStable},
		{"malformed first is skipped", []string{`canary=al"ways; canary=always`}, VersionCanary},
		{"second header line", []string{"a=1", "canary=always"}, VersionCanary},
		{"space inside value", []string{"canary= always"}, VersionStable},
		{"other name", []string{"xcanary=always"}, VersionStable},
		{"huge header, cookie last", []string{"junk=" + strings.Repeat("x", 1<<20) + "; canary=always"}, VersionCanary},
		{"over net/http's cookie limit", []string{strings.Repeat("x=1;", 3000) + "canary=always"}, VersionStable},
	}
	s := NewSplitter(SplitConfig{Weight: 0})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, s.Choose(withCookieLines(tc.lines...)))
		})
	}
}
