package middleware

import (
	"fmt"
	"net/http"
	"strconv"
)

// methodLabel keeps the method label bounded: a client can send any token as
// a method, and each distinct one would otherwise be a new series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return LabelOther
}

// codeLabels holds "100".."599" so labelling a response does not allocate.
var codeLabels = func() []string {
	out := make([]string, 600)
	for i := 100; i < len(out); i++ {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

// codeLabel renders a status code; net/http only allows three-digit codes,
// so the label set is bounded even past 599.
func codeLabel(code int) string {
	if code >= 100 && code < len(codeLabels) {
		return codeLabels[code]
	}
	return strconv.Itoa(code)
}

// routeMatcher maps a request to one of a fixed set of route patterns, using
// net/http's own pattern matcher so the patterns mean what they mean in a
// ServeMux.
type routeMatcher struct {
	mux   *http.ServeMux
	known map[string]struct{}
}

func newRouteMatcher(patterns []string) (*routeMatcher, error) {
	m := &routeMatcher{mux: http.NewServeMux(), known: make(map[string]struct{}, len(patterns))}
	for _, p := range patterns {
		if _, dup := m.known[p]; dup {
			continue
		}
		if err := m.add(p); err != nil {
			return nil, err
		}
		m.known[p] = struct{}{}
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

// route returns the known pattern r matches, or "other". A pattern the
// wrapped handler's own ServeMux matched is used when it is a known one; the
// result is always checked against the known set because ServeMux reports
// redirect targets (cleaned raw paths) as patterns too.
func (m *routeMatcher) route(r *http.Request) string {
	if len(m.known) == 0 {
		return LabelOther
	}
	if _, ok := m.known[r.Pattern]; ok {
		return r.Pattern
	}
	if _, p := m.mux.Handler(r); p != "" {
		if _, ok := m.known[p]; ok {
			return p
		}
	}
	return LabelOther
}

// statusWriter remembers the status code a handler sent. It unwraps for
// http.ResponseController so flushing and hijacking (used by
// httputil.ReverseProxy for streaming and upgrades) keep working.
type statusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader records the first final status; 1xx informational responses
// other than 101 are followed by the real one and are not recorded.
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implies 200 when no status was sent, as net/http does.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets handlers that type-assert http.Flusher keep streaming.
func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
