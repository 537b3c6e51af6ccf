package middleware

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
)

// routeMatcher maps a request to one of a fixed set of route patterns with
// the meaning they have in a net/http.ServeMux. Patterns are registered in a
// ServeMux, which validates them and refuses conflicts, and also compiled
// into a tree of their own: ServeMux.Handler allocates for every request that
// matches a wildcard and takes a lock, and the metrics handler asks on every
// request that no inner ServeMux labelled. The tree follows ServeMux's
// precedence (a host pattern before a hostless one; the exact method, then
// GET for HEAD, then no method; per segment a literal, then {x}, then {x...}
// or a trailing slash; the trailing-slash redirect). Requests whose answer
// depends on more (CONNECT, paths ServeMux would clean and redirect, the
// Go 1.21 ServeMux selected by GODEBUG) are asked of the ServeMux itself.
type routeMatcher struct {
	mux *http.ServeMux
	// index maps a known pattern to its route index; names holds the label
	// for each index, with names[0] = "other".
	index map[string]int
	names []string
	// hosts holds the trees by host; "" is the tree of hostless patterns.
	hosts   map[string]methodTrees
	anyHost bool
	legacy  bool
}

// methodTrees holds a path tree per method; "" is patterns with no method.
type methodTrees map[string]*routeNode

// routeNode is one path segment. route is non-zero when a pattern ends
// here; multiEnd and segments describe that pattern for the trailing-slash
// redirect's exactness test.
type routeNode struct {
	literals map[string]*routeNode
	single   *routeNode
	multi    *routeNode
	route    int
	multiEnd bool
	segments int
}

func newRouteMatcher(patterns []string) (*routeMatcher, error) {
	m := &routeMatcher{
		mux:    http.NewServeMux(),
		index:  make(map[string]int, len(patterns)),
		names:  []string{LabelOther},
		hosts:  map[string]methodTrees{},
		legacy: legacyServeMux(),
	}
	for _, p := range patterns {
		if _, dup := m.index[p]; dup {
			continue
		}
		if err := m.add(p); err != nil {
			return nil, err
		}
		m.names = append(m.names, p)
		m.index[p] = len(m.names) - 1
		m.compile(p, len(m.names)-1)
	}
	return m, nil
}

// add turns ServeMux's panic on a bad or conflicting pattern into an error:
// route lists come from configuration, and a typo should not crash the app.
func (m *routeMatcher) add(p string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("route pattern %q: %v", p, r)
		}
	}()
	m.mux.Handle(p, http.NotFoundHandler())
	return nil
}

// compile adds a pattern ServeMux has accepted to the tree. It parses only as
// far as matching needs, since validity has been checked.
func (m *routeMatcher) compile(p string, route int) {
	method, rest := "", p
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		method, rest = p[:i], strings.TrimLeft(p[i+1:], " \t")
	}
	slash := strings.IndexByte(rest, '/')
	host, rest := rest[:slash], rest[slash:]
	if host != "" {
		m.anyHost = true
	}
	trees := m.hosts[host]
	if trees == nil {
		trees = methodTrees{}
		m.hosts[host] = trees
	}
	n := trees[method]
	if n == nil {
		n = &routeNode{}
		trees[method] = n
	}
	segments, multiEnd := 0, false
	for rest != "" {
		rest = rest[1:]
		segments++
		if rest == "" { // trailing slash: an anonymous {...}
			n, multiEnd = n.child(&n.multi), true
			break
		}
		seg := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg, rest = rest[:i], rest[i:]
		} else {
			rest = ""
		}
		switch {
		case seg == "{$}":
			n = n.literal("/")
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "...}"):
			n, multiEnd = n.child(&n.multi), true
		case strings.HasPrefix(seg, "{"):
			n = n.child(&n.single)
		default:
			n = n.literal(unescapeSegment(seg))
		}
	}
	n.route, n.multiEnd, n.segments = route, multiEnd, segments
}

func (n *routeNode) child(slot **routeNode) *routeNode {
	if *slot == nil {
		*slot = &routeNode{}
	}
	return *slot
}

func (n *routeNode) literal(seg string) *routeNode {
	if n.literals == nil {
		n.literals = map[string]*routeNode{}
	}
	c := n.literals[seg]
	if c == nil {
		c = &routeNode{}
		n.literals[seg] = c
	}
	return c
}

// route returns the index of the known pattern r matches, or 0 ("other").
// A pattern the wrapped handler's own ServeMux matched is used when it is a
// known one.
func (m *routeMatcher) route(r *http.Request) int {
	if len(m.names) == 1 {
		return 0
	}
	if i, ok := m.index[r.Pattern]; ok {
		return i
	}
	if m.legacy || r.Method == http.MethodConnect || r.URL == nil {
		return m.viaMux(r)
	}
	p := r.URL.EscapedPath()
	if !isCleanPath(p) {
		return m.viaMux(r)
	}
	host := ""
	if m.anyHost {
		host = stripPort(r.Host)
	}
	n := m.match(host, r.Method, p, false)
	if !n.exact(p, false) && !strings.HasSuffix(p, "/") {
		// ServeMux redirects /tree to /tree/ and reports /tree/'s pattern.
		if n2 := m.match(host, r.Method, p, true); n2.exact(p, true) {
			return n2.route
		}
	}
	if n == nil {
		return 0
	}
	return n.route
}

// viaMux asks the ServeMux, for the requests the tree leaves to it. The
// result is checked against the known set because ServeMux reports redirect
// targets (cleaned raw paths) as patterns too.
func (m *routeMatcher) viaMux(r *http.Request) int {
	if _, p := m.mux.Handler(r); p != "" {
		return m.index[p]
	}
	return 0
}

func (m *routeMatcher) match(host, method, path string, slash bool) *routeNode {
	if host != "" {
		if n := m.hosts[host].match(method, path, slash); n != nil {
			return n
		}
	}
	return m.hosts[""].match(method, path, slash)
}

func (t methodTrees) match(method, path string, slash bool) *routeNode {
	if t == nil {
		return nil
	}
	if n := t[method].match(path, slash); n != nil {
		return n
	}
	if method == http.MethodHead {
		if n := t[http.MethodGet].match(path, slash); n != nil {
			return n
		}
	}
	return t[""].match(path, slash)
}

// match walks path (with a "/" appended when slash is set, for the
// trailing-slash redirect, so that no string is built).
func (n *routeNode) match(path string, slash bool) *routeNode {
	if n == nil {
		return nil
	}
	seg, rest, restSlash, ok := nextSegment(path, slash)
	if !ok {
		if n.route == 0 {
			return nil
		}
		return n
	}
	if c := n.literals[seg]; c != nil {
		if l := c.match(rest, restSlash); l != nil {
			return l
		}
	}
	// A single wildcard never matches the trailing slash.
	if seg != "/" {
		if l := n.single.match(rest, restSlash); l != nil {
			return l
		}
	}
	return n.multi
}

// exact is ServeMux's test for whether a match needs no trailing-slash
// redirect: a pattern ending in a multi wildcard matches a path exactly only
// when the wildcard matched nothing.
func (n *routeNode) exact(path string, slash bool) bool {
	if n == nil {
		return false
	}
	if !n.multiEnd {
		return true
	}
	if !slash && (path == "" || path[len(path)-1] != '/') {
		return false
	}
	slashes := strings.Count(path, "/")
	if slash {
		slashes++
	}
	return n.segments == slashes
}

// nextSegment splits off the first segment of path+("/" if slash), unescaped
// as ServeMux does. ok is false when nothing is left.
func nextSegment(path string, slash bool) (seg, rest string, restSlash, ok bool) {
	switch {
	case path == "" && !slash:
		return "", "", false, false
	case path == "":
		return "/", "", false, true
	case path == "/" && !slash:
		return "/", "", false, true
	}
	p := path[1:]
	i := strings.IndexByte(p, '/')
	if i < 0 {
		i = len(p)
	}
	return unescapeSegment(p[:i]), p[i:], slash, true
}

// unescapeSegment decodes %XX, keeping a malformed segment as it is, which is
// how ServeMux treats it. It does not allocate when there is nothing to
// decode.
func unescapeSegment(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// isCleanPath reports whether ServeMux would route p as it is rather than
// redirect to a cleaned form. path.Clean does not allocate for a clean path.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return path.Clean(p) == p
}

// stripPort removes a port from a Host header as ServeMux does, leaving a
// value that does not parse unchanged.
func stripPort(h string) string {
	if !strings.Contains(h, ":") {
		return h
	}
	host, _, err := net.SplitHostPort(h)
	if err != nil {
		return h
	}
	return host
}

// legacyServeMux reports whether GODEBUG=httpmuxgo121=1 (by environment, go.mod
// or a //go:debug line) gave this program the Go 1.21 ServeMux, whose
// patterns have no methods or wildcards; the tree only knows the current
// syntax, so then every request is asked of the ServeMux. It is probed once by
// behaviour, which covers every way the setting can be made.
var legacyServeMux = sync.OnceValue(func() bool {
	mux := http.NewServeMux()
	mux.Handle("/{x}", http.NotFoundHandler())
	_, p := mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/a"}, Host: "probe"})
	return p != "/{x}"
})
