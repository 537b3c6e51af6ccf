package middleware

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
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
	// hostless holds the trees of patterns without a host, hosts the others.
	hostless *methodTrees
	hosts    map[string]*methodTrees
	legacy   bool
}

// methodTrees holds a path tree per method, searched linearly (there are a
// handful), and the tree of patterns with no method.
type methodTrees struct {
	methods   []methodTree
	anyMethod *routeNode
}

type methodTree struct {
	method string
	root   *routeNode
}

func (t *methodTrees) tree(method string) *routeNode {
	for i := range t.methods {
		if t.methods[i].method == method {
			return t.methods[i].root
		}
	}
	return nil
}

// root returns the tree for method ("" for no method), creating it.
func (t *methodTrees) root(method string) *routeNode {
	if method == "" {
		if t.anyMethod == nil {
			t.anyMethod = &routeNode{}
		}
		return t.anyMethod
	}
	if n := t.tree(method); n != nil {
		return n
	}
	n := &routeNode{}
	t.methods = append(t.methods, methodTree{method, n})
	return n
}

// routeNode is one path segment. route is non-zero when a pattern ends
// here; multiEnd and segments describe that pattern for the trailing-slash
// redirect's exactness test.
type routeNode struct {
	// literals is searched linearly: a node rarely has more than a few, and
	// comparing strings of different lengths is cheaper than hashing one.
	literals []literalChild
	single   *routeNode
	multi    *routeNode
	route    int
	multiEnd bool
	segments int
}

func newRouteMatcher(patterns []string) (*routeMatcher, error) {
	m := &routeMatcher{
		mux:      http.NewServeMux(),
		index:    make(map[string]int, len(patterns)),
		names:    []string{LabelOther},
		hostless: &methodTrees{},
		hosts:    map[string]*methodTrees{},
		legacy:   legacyServeMux(),
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
	trees := m.hostless
	if host != "" {
		if trees = m.hosts[host]; trees == nil {
			trees = &methodTrees{}
			m.hosts[host] = trees
		}
	}
	n := trees.root(method)
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

type literalChild struct {
	seg  string
	node *routeNode
}

func (n *routeNode) literal(seg string) *routeNode {
	if c := n.findLiteral(seg); c != nil {
		return c
	}
	c := &routeNode{}
	n.literals = append(n.literals, literalChild{seg, c})
	return c
}

func (n *routeNode) findLiteral(seg string) *routeNode {
	for i := range n.literals {
		if n.literals[i].seg == seg {
			return n.literals[i].node
		}
	}
	return nil
}

// route returns the index of the known pattern r matches, or 0 ("other").
// A pattern the wrapped handler's own ServeMux matched is used when it is a
// known one.
func (m *routeMatcher) route(r *http.Request) int {
	if len(m.names) == 1 {
		return 0
	}
	if r.Pattern != "" {
		if i, ok := m.index[r.Pattern]; ok {
			return i
		}
	}
	if m.legacy || r.Method == http.MethodConnect || r.URL == nil {
		return m.viaMux(r)
	}
	p := r.URL.EscapedPath()
	if !isCleanPath(p) {
		return m.viaMux(r)
	}
	host := ""
	if len(m.hosts) > 0 {
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
	return m.hostless.match(method, path, slash)
}

func (t *methodTrees) match(method, path string, slash bool) *routeNode {
	if t == nil {
		return nil
	}
	if n := t.tree(method).match(path, slash); n != nil {
		return n
	}
	if method == http.MethodHead {
		if n := t.tree(http.MethodGet).match(path, slash); n != nil {
			return n
		}
	}
	return t.anyMethod.match(path, slash)
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
	if c := n.findLiteral(seg); c != nil {
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
// redirect to a cleaned form: it is rooted and has no empty, "." or ".."
// segment, a single trailing slash aside.
func isCleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		seg := p[i+1:]
		if j := strings.IndexByte(seg, '/'); j >= 0 {
			seg = seg[:j]
			if j == 0 {
				return false // "//"
			}
		}
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
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
