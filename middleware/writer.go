package middleware

import (
	"net/http"
	"sync"
)

// statusWriter remembers the status code a handler sent. It unwraps for
// http.ResponseController so flushing and hijacking (used by
// httputil.ReverseProxy for streaming and upgrades) keep working.
//
// Writers are pooled: net/http forbids using a ResponseWriter after ServeHTTP
// returns (and pools its own buffers on that basis), so the wrapper is free
// for the next request then. A released writer forgets the one it wrapped, so
// a handler that breaks the rule fails loudly instead of writing into
// another request's response.
type statusWriter struct {
	http.ResponseWriter
	code int
	// finished is set when the wrapped handler returned normally, to tell a
	// handler that wrote nothing (200) from one that panicked (500).
	finished bool
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

func acquireStatusWriter(w http.ResponseWriter) *statusWriter {
	sw := statusWriters.Get().(*statusWriter)
	sw.ResponseWriter = w
	return sw
}

func releaseStatusWriter(sw *statusWriter) {
	*sw = statusWriter{}
	statusWriters.Put(sw)
}

// status is the code to record: the one sent, else 200 for a handler that
// returned normally without writing, as net/http sends, else 500 for one that
// panicked.
func (w *statusWriter) status() int {
	switch {
	case w.code != 0:
		return w.code
	case w.finished:
		return http.StatusOK
	}
	return http.StatusInternalServerError
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
