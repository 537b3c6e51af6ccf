package compose

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dockerignore is a .dockerignore's patterns in order: a later pattern overrides an earlier
// one, and a pattern starting with ! brings matching paths back.
type dockerignore []ignorePattern

type ignorePattern struct {
	negate bool
	re     *regexp.Regexp
}

// readDockerignore reads root/.dockerignore.
func readDockerignore(t *testing.T, root string) dockerignore {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	require.NoError(t, err)
	var d dockerignore
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			p.negate, line = true, rest
		}
		line = strings.Trim(filepath.ToSlash(filepath.Clean(line)), "/")
		re, err := regexp.Compile("^" + globRegexp(line) + "$")
		require.NoError(t, err, "pattern %q", line)
		p.re = re
		d = append(d, p)
	}
	return d
}

// globRegexp translates a .dockerignore pattern: ** crosses directories, * and ? do not.
func globRegexp(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case strings.HasPrefix(glob[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	return b.String()
}

// excludes reports whether the build context leaves out p (slash-separated, relative to the
// context): p or one of its parent directories matches, last matching pattern winning.
func (d dockerignore) excludes(p string) bool {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	excluded := false
	for _, pat := range d {
		for i := range parts {
			if pat.re.MatchString(strings.Join(parts[:i+1], "/")) {
				excluded = !pat.negate
				break
			}
		}
	}
	return excluded
}
