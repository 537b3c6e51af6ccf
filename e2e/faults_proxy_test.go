package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// adminProxy stands between the worker and a router's admin API (the
// spec's traffic.local.adminURL points at it). It records every weight the
// router accepted, and it can hold chosen weight changes until released
// (pinning a rollout in a phase) or make the API fail for a while (503s,
// then refused connections). Keep-alives are off, so a closed listener
// refuses every next request rather than letting a pooled connection through.
type adminProxy struct {
	target string
	addr   string
	srv    *http.Server
	client *http.Client

	mu          sync.Mutex
	ln          net.Listener
	accepted    []int // weights the router answered 200 to, in order
	answered503 int
	// holdIf picks the PUTs held until release; accepted is what came before.
	holdIf   func(weight int, accepted []int) bool
	released chan struct{}
	held     chan struct{} // closed at the first held request
	heldOnce sync.Once
	// failOn starts the outage at the first PUT of this weight (-1: never).
	failOn            int
	failing           bool
	errFor, refuseFor time.Duration
	outageOver        chan struct{}
	outageErr         error // why the API could not come back, if it could not
}

// newAdminProxy serves a proxy to the router admin API at target until t ends.
func newAdminProxy(t *testing.T, target string) *adminProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listening for the admin proxy")
	p := &adminProxy{
		target: target, addr: ln.Addr().String(), ln: ln,
		client:   &http.Client{Timeout: 5 * time.Second},
		released: make(chan struct{}), held: make(chan struct{}), outageOver: make(chan struct{}),
		failOn: -1,
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	p.srv.SetKeepAlivesEnabled(false)
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(func() {
		p.release()
		_ = p.srv.Close()
	})
	return p
}

// URL is what the spec's traffic.local.adminURL is set to.
func (p *adminProxy) URL() string { return "http://" + p.addr }

// holdWhen holds the weight changes pick chooses until release.
func (p *adminProxy) holdWhen(pick func(weight int, accepted []int) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holdIf = pick
}

// release lets every held request through, and all later ones.
func (p *adminProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.released:
	default:
		close(p.released)
	}
}

// isHolding reports whether a request has been held (the rollout is pinned).
func (p *adminProxy) isHolding() bool {
	select {
	case <-p.held:
		return true
	default:
		return false
	}
}

// failAt makes the API fail from the first PUT of weight on: 503s for
// errFor, then nothing listening for refuseFor, then back to normal.
func (p *adminProxy) failAt(weight int, errFor, refuseFor time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failOn, p.errFor, p.refuseFor = weight, errFor, refuseFor
}

// outage runs the failure window failAt asked for; it is started once.
func (p *adminProxy) outage() {
	defer close(p.outageOver)
	time.Sleep(p.errFor)
	p.mu.Lock()
	_ = p.ln.Close()
	p.mu.Unlock()
	time.Sleep(p.refuseFor)
	ln, err := net.Listen("tcp", p.addr)
	for attempt := 0; err != nil && attempt < 50; attempt++ {
		time.Sleep(100 * time.Millisecond)
		ln, err = net.Listen("tcp", p.addr)
	}
	if err != nil {
		p.mu.Lock()
		p.outageErr = fmt.Errorf("listening again on %s after the outage: %w", p.addr, err)
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	p.ln, p.failing = ln, false
	p.mu.Unlock()
	go func() { _ = p.srv.Serve(ln) }()
}

// outageDone reports whether the outage failAt asked for has run its
// course, and what kept the API from coming back if anything did.
func (p *adminProxy) outageDone() (bool, error) {
	select {
	case <-p.outageOver:
	default:
		return false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return true, p.outageErr
}

// history is the weights the router accepted with repeats (retries of the
// same change) folded, and how many requests were answered 503 by the outage.
func (p *adminProxy) history() (weights []int, answered503 int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Compact(slices.Clone(p.accepted)), p.answered503
}

func (p *adminProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, "admin proxy: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	weight := -1
	if r.Method == http.MethodPut {
		var wb struct {
			Weight *int `json:"weight"`
		}
		if json.Unmarshal(body, &wb) == nil && wb.Weight != nil {
			weight = *wb.Weight
		}
	}
	p.mu.Lock()
	if weight >= 0 && weight == p.failOn && !p.failing {
		p.failOn, p.failing = -1, true
		go p.outage()
	}
	failing := p.failing
	if failing {
		p.answered503++
	}
	hold := weight >= 0 && p.holdIf != nil && p.holdIf(weight, p.accepted)
	p.mu.Unlock()
	if failing {
		http.Error(w, "router failing (e2e fault)", http.StatusServiceUnavailable)
		return
	}
	if hold {
		p.heldOnce.Do(func() { close(p.held) })
		select {
		case <-p.released:
		case <-r.Context().Done():
			return // the worker gave up (or died): nothing reaches the router
		}
	}
	p.forward(w, r, body, weight)
}

// forward sends the request on to the router and its answer back.
func (p *adminProxy) forward(w http.ResponseWriter, r *http.Request, body []byte, weight int) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, "admin proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, "admin proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, "admin proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	if weight >= 0 && resp.StatusCode == http.StatusOK {
		p.mu.Lock()
		p.accepted = append(p.accepted, weight)
		p.mu.Unlock()
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

// smokeGate stands between the smoke tests and the router (the spec's
// smoke.baseURL points at it). While closed it holds each request for a
// while before passing it on: the smoke test then lasts as long as the gate
// stays closed, yet no request runs into the smoke client's own timeout.
type smokeGate struct {
	srv      *http.Server
	addr     string
	proxy    *httputil.ReverseProxy
	holdFor  time.Duration
	mu       sync.Mutex
	closed   bool
	opened   chan struct{}
	held     chan struct{}
	heldOnce sync.Once
}

// newSmokeGate serves an open gate to target until t ends.
func newSmokeGate(t *testing.T, target string) *smokeGate {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listening for the smoke gate")
	g := &smokeGate{
		addr: ln.Addr().String(), proxy: httputil.NewSingleHostReverseProxy(u),
		holdFor: 5 * time.Second, opened: make(chan struct{}), held: make(chan struct{}),
	}
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	t.Cleanup(func() {
		g.open()
		_ = g.srv.Close()
	})
	return g
}

// URL is what the spec's smoke.baseURL is set to.
func (g *smokeGate) URL() string { return "http://" + g.addr }

// close starts holding requests.
func (g *smokeGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed, g.opened = true, make(chan struct{})
	}
}

// open passes every request at once again, held ones included.
func (g *smokeGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		g.closed = false
		close(g.opened)
	}
}

// isHolding reports whether a smoke request has been held.
func (g *smokeGate) isHolding() bool {
	select {
	case <-g.held:
		return true
	default:
		return false
	}
}

func (g *smokeGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	closed, opened := g.closed, g.opened
	g.mu.Unlock()
	if closed {
		g.heldOnce.Do(func() { close(g.held) })
		timer := time.NewTimer(g.holdFor)
		defer timer.Stop()
		select {
		case <-opened:
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
	}
	g.proxy.ServeHTTP(w, r)
}
