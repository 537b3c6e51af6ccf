// Package middleware is the application-side half of a canary rollout for
// net/http: a traffic splitter (weight, header and cookie, with the same
// precedence as ingress-nginx so users see one behaviour whether the split
// happens in the app, the demo router or the ingress), request metrics that
// carry the version label analysis compares, and feature flags that turn a
// feature on only for canary traffic or a stable share of users.
package middleware

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The two versions a request can be routed to. Every metric and context value
// uses exactly these strings so that PromQL selectors written against the
// reference system (version="canary") keep working.
const (
	VersionStable = "stable"
	VersionCanary = "canary"
)

// Defaults for SplitConfig and FlagConfig, the names the reference system's
// users already send.
const (
	DefaultHeader = "X-Canary"
	DefaultCookie = "canary"
)

// The values that force routing in the header and the cookie. Any other value
// is ignored and the next rule decides, as ingress-nginx does.
const (
	ForceAlways = "always"
	ForceNever  = "never"
)

// SplitConfig configures a Splitter.
type SplitConfig struct {
	// Header forces routing with "always" or "never"; default "X-Canary".
	Header string
	// Cookie forces routing like Header, for browsers; default "canary".
	Cookie string
	// Weight is the initial canary share in percent; it is clamped to 0..100.
	Weight int
	// Sticky pins a user to the version the weight chose by setting Cookie.
	Sticky bool
	// StickyMaxAge bounds how long a sticky cookie pins a user; zero makes it
	// a session cookie. Bounding it limits how long pinned users keep going to
	// a canary after a rollback sets the weight back to 0.
	StickyMaxAge time.Duration
	// Rand returns a number in [0,1); nil uses math/rand/v2. Tests pass a
	// seeded source to make split ratios reproducible.
	Rand func() float64
	// NoContext passes each request on as it came instead of recording the
	// choice in its context. Recording costs the one allocation per request
	// the splitter otherwise makes (a copy of the request carrying the new
	// context). Set it only when nothing behind the splitter asks for the
	// choice: VersionFrom, VersionOf and FeatureFlag's canary rule all see
	// no version then. A router whose backends are reverse proxies, each
	// wrapped in Metrics with FixedVersion, is the case it is for.
	NoContext bool
}

// Splitter decides per request whether stable or canary serves it. It is safe
// for concurrent use; the weight is stored atomically so a rollout can move
// it while requests are in flight.
type Splitter struct {
	header    string
	cookie    string
	sticky    bool
	noContext bool
	weight    atomic.Int32
	// stickyCanary and stickyStable are the Set-Cookie values, rendered
	// once: building them per request allocated three times. Empty when the
	// cookie name is not a valid token (http.SetCookie would drop it too).
	stickyCanary, stickyStable string

	// randMu guards a caller-supplied Rand: seeded math/rand/v2 sources are
	// not safe for concurrent use, and tests should not have to know that.
	randMu sync.Mutex
	rand   func() float64
}

// NewSplitter returns a Splitter for cfg, filling in the defaults.
func NewSplitter(cfg SplitConfig) *Splitter {
	s := &Splitter{
		header:    http.CanonicalHeaderKey(cfg.Header),
		cookie:    cfg.Cookie,
		sticky:    cfg.Sticky,
		noContext: cfg.NoContext,
		rand:      cfg.Rand,
	}
	if s.header == "" {
		s.header = DefaultHeader
	}
	if s.cookie == "" {
		s.cookie = DefaultCookie
	}
	maxAge := int(cfg.StickyMaxAge / time.Second)
	s.stickyCanary = stickyCookie(s.cookie, ForceAlways, maxAge).String()
	s.stickyStable = stickyCookie(s.cookie, ForceNever, maxAge).String()
	s.weight.Store(int32(min(max(cfg.Weight, 0), 100)))
	return s
}

// SetWeight changes the canary share for requests that arrive from now on.
// An out-of-range weight is refused rather than clamped, because a rollout
// asking for 120 % has a bug that should surface.
func (s *Splitter) SetWeight(w int) error {
	if w < 0 || w > 100 {
		return fmt.Errorf("setting canary weight: %d is outside 0..100", w)
	}
	s.weight.Store(int32(w))
	return nil
}

// Weight is the canary share in percent.
func (s *Splitter) Weight() int { return int(s.weight.Load()) }

// Choose returns VersionStable or VersionCanary for r. Precedence follows
// ingress-nginx: the header (always|never) first, then the cookie, then the
// weight; any other header or cookie value falls through to the next rule.
func (s *Splitter) Choose(r *http.Request) string {
	v, _ := s.choose(r)
	return v
}

// choose also reports whether the weight decided, which is when stickiness
// has something to remember.
func (s *Splitter) choose(r *http.Request) (version string, byWeight bool) {
	if v, ok := forced(firstHeader(r, s.header)); ok {
		return v, false
	}
	if v, ok := forced(cookieValue(r, s.cookie)); ok {
		return v, false
	}
	w := s.weight.Load()
	switch {
	case w <= 0:
		return VersionStable, true
	case w >= 100:
		return VersionCanary, true
	}
	if s.draw()*100 < float64(w) {
		return VersionCanary, true
	}
	return VersionStable, true
}

func (s *Splitter) draw() float64 {
	if s.rand == nil {
		return rand.Float64()
	}
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return s.rand()
}

// Handler routes each request to stable or canary and records the choice in
// the request context (see VersionFrom) unless NoContext is set. With Sticky,
// a request the weight sent to canary gets Cookie=always and one it sent to
// stable gets Cookie=never, so the user keeps seeing the same version. No
// cookie is set at weight 0 or 100: there was no split to stay consistent
// with, and pinning everyone to stable at weight 0 would starve the canary
// once traffic moves.
func (s *Splitter) Handler(stable, canary http.Handler) http.Handler {
	return &splitHandler{s: s, stable: stable, canary: canary}
}

type splitHandler struct {
	s              *Splitter
	stable, canary http.Handler
}

func (h *splitHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.s
	v, byWeight := s.choose(r)
	if s.sticky && byWeight {
		if wt := s.weight.Load(); wt > 0 && wt < 100 {
			s.setSticky(w, v)
		}
	}
	if !s.noContext {
		r = withVersion(r, v)
	}
	if v == VersionCanary {
		h.canary.ServeHTTP(w, r)
		return
	}
	h.stable.ServeHTTP(w, r)
}

// setSticky adds the pre-rendered Set-Cookie value, as http.SetCookie would.
func (s *Splitter) setSticky(w http.ResponseWriter, version string) {
	val := s.stickyStable
	if version == VersionCanary {
		val = s.stickyCanary
	}
	if val == "" {
		return
	}
	hdr := w.Header()
	hdr["Set-Cookie"] = append(hdr["Set-Cookie"], val)
}

func stickyCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

type versionKey struct{}

// Boxing the two constants once keeps versionContext.Value from allocating a
// fresh interface value on every lookup.
var (
	boxedStable any = VersionStable
	boxedCanary any = VersionCanary
)

func boxed(v string) any {
	if v == VersionCanary {
		return boxedCanary
	}
	return boxedStable
}

// VersionFrom returns the version a Splitter chose for the request whose
// context this is, so handlers behind it (feature flags, metrics, logs) agree
// with the routing decision instead of re-deciding.
func VersionFrom(ctx context.Context) (string, bool) {
	v, ok := ctx.Value(versionKey{}).(string)
	return v, ok
}

// forced maps an always|never value to a version; ok is false for anything
// else so the caller falls through to the next rule.
func forced(val string) (version string, ok bool) {
	switch {
	case val == "":
		return "", false
	case strings.EqualFold(val, ForceAlways):
		return VersionCanary, true
	case strings.EqualFold(val, ForceNever):
		return VersionStable, true
	}
	return "", false
}

// firstHeader reads a header by its canonical key without re-canonicalising
// it on every request.
func firstHeader(r *http.Request, canonicalKey string) string {
	if vs := r.Header[canonicalKey]; len(vs) > 0 {
		return strings.TrimSpace(vs[0])
	}
	return ""
}
