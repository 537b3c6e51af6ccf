package middleware

import (
	"net/http"
	"net/url"
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routeSets are pattern lists that exercise ServeMux's precedence: literal
// over wildcard over multi, {$}, trailing slashes, methods (and GET serving
// HEAD), hosts, escaped literals.
var routeSets = map[string][]string{
	"test routes": testRoutes,
	"precedence": {
		"/", "/api/", "/api/{$}", "GET /api/items/{id}", "POST /api/items/{id}",
		"/api/items/{id}/tags/{tag...}", "/static/", "/a/b/c", "/a/{x}/c", "/q/{x}/d/{rest...}", "/q/b/{y}",
		"HEAD /h", "GET /g/", "/files/{path...}", "/x%2Fy", "/esc/{id}", "DELETE /del/", "GET /del/{$}",
	},
	"hosts": {
		"/", "example.com/", "example.com/api/{id}", "GET example.com/special", "/api/{id}",
		"other.org/only",
	},
	"redirects": {"/health/", "/docs", "/deep/a/b/", "/w/{x}/"},
}

var routeRequests = struct {
	methods, hosts, paths []string
}{
	methods: []string{"GET", "HEAD", "POST", "DELETE", "BREW", "CONNECT", ""},
	hosts:   []string{"", "example.com", "example.com:8080", "other.org", "[::1]:80", "bad:host:port"},
	paths: []string{
		"/", "/api", "/api/", "/api/x", "/api/items/1", "/api/items/1/", "/api/items/1/tags/a/b",
		"/api/items/1/tags", "/api/items/1/tags/", "/static", "/static/css/x.css", "/a/b/c", "/a/z/c",
		"/q/b/d/z", "/a/b/d", "/q/b/d/y", "/h", "/g", "/g/", "/g/x", "/files/", "/files", "/files/a/b", "/x%2Fy",
		"/x/y", "/esc/a%2Fb", "/esc/%41", "/api/../wp-login", "/api/./items/1", "//api", "/api//x",
		"/health", "/health/", "/health/x", "/docs", "/docs/", "/deep/a/b", "/deep/a", "/w/1", "/w/1/",
		"/%41pi/items/1", "/api/users/42", "/api/users/42/", "/api/users/", "/api/users",
		"/api/properties", "/api/properties/", "/api/properties/123", "/special", "/only", "/.",
		"/..", "/a/.", "/a/..", "/a/...", "/a/.b", "/del", "/del/", "/del/x", "*", "",
	},
}

func routeRequest(t testing.TB, method, host, rawPath string) *http.Request {
	t.Helper()
	u := &url.URL{Path: rawPath}
	if p, err := url.PathUnescape(rawPath); err == nil && p != rawPath {
		u = &url.URL{Path: p, RawPath: rawPath}
	}
	return &http.Request{Method: method, Host: host, URL: u, Header: http.Header{}}
}

// TestRouteMatcherAgreesWithServeMux checks the tree against ServeMux itself
// for every combination of the patterns, methods, hosts and paths above.
func TestRouteMatcherAgreesWithServeMux(t *testing.T) {
	for set, patterns := range routeSets {
		m, err := newRouteMatcher(patterns)
		require.NoError(t, err, set)
		for _, method := range routeRequests.methods {
			for _, host := range routeRequests.hosts {
				for _, p := range routeRequests.paths {
					r := routeRequest(t, method, host, p)
					want := m.names[m.viaMux(r)]
					assert.Equal(t, want, m.names[m.route(r)], "%s: %s host=%q %q", set, method, host, p)
				}
			}
		}
	}
}

func TestRouteMatcherExamples(t *testing.T) {
	m, err := newRouteMatcher(routeSets["precedence"])
	require.NoError(t, err)
	for p, want := range map[string]string{
		"/api/items/7":          "GET /api/items/{id}",
		"/api/items/7/tags/x/y": "/api/items/{id}/tags/{tag...}",
		"/a/b/c":                "/a/b/c",
		"/a/q/c":                "/a/{x}/c",
		"/api/":                 "/api/{$}",
		"/api/zzz":              "/api/",
		"/g":                    "GET /g/", // ServeMux redirects to /g/ and names it
		"/nothing":              "/",
	} {
		r := routeRequest(t, http.MethodGet, "", p)
		assert.Equal(t, want, m.names[m.route(r)], p)
	}
	r := routeRequest(t, http.MethodHead, "", "/api/items/7")
	assert.Equal(t, "GET /api/items/{id}", m.names[m.route(r)], "GET serves HEAD")
	r = routeRequest(t, http.MethodPut, "", "/api/items/7")
	assert.Equal(t, "/api/", m.names[m.route(r)], "no PUT pattern: the subtree pattern")
}

// cleanByServeMux is ServeMux's own definition: the path is what cleanPath
// (path.Clean, keeping one trailing slash) leaves unchanged.
func cleanByServeMux(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np == p
}

func TestIsCleanPath(t *testing.T) {
	for _, p := range append(routeRequests.paths, "/a//", "/a/./", "/a/../", "/./", "/../", "/a/b/", "///", "/.../") {
		assert.Equal(t, cleanByServeMux(p), isCleanPath(p), "%q", p)
	}
}

func FuzzRouteMatch(f *testing.F) {
	for _, p := range routeRequests.paths {
		f.Add("GET", "", p)
	}
	f.Add("HEAD", "example.com:80", "/api/1")
	patterns := append(append([]string{}, routeSets["precedence"]...), "example.com/api/{id}")
	m, err := newRouteMatcher(patterns)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, host, rawPath string) {
		if cleanByServeMux(rawPath) != isCleanPath(rawPath) {
			t.Fatalf("isCleanPath(%q) disagrees with ServeMux", rawPath)
		}
		r := routeRequest(t, method, host, rawPath)
		if got, want := m.names[m.route(r)], m.names[m.viaMux(r)]; got != want {
			t.Fatalf("%s host=%q %q: tree says %q, ServeMux %q", method, host, rawPath, got, want)
		}
	})
}
