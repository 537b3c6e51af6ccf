package prometheus

import (
	"fmt"
	"io"
	"net/http"
)

// limitAnswers wraps rt so that no response body yields more than limit
// bytes: the Prometheus client reads whole bodies into memory, and the
// address it reads from comes from a spec.
func limitAnswers(rt http.RoundTripper, limit int64) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return limitedTransport{rt: rt, limit: limit}
}

type limitedTransport struct {
	rt    http.RoundTripper
	limit int64
}

// RoundTrip sends req and limits what its answer's body may yield.
func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.limit, limit: t.limit}
	return resp, nil
}

// limitedBody fails a read past its limit instead of ending early, so an
// oversized answer is an error that says so, not a truncated JSON document.
type limitedBody struct {
	io.ReadCloser
	left, limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells "exactly at the limit" from "over it".
		var one [1]byte
		for {
			n, err := b.ReadCloser.Read(one[:])
			if n > 0 {
				return 0, fmt.Errorf("the answer is larger than %d bytes (MaxAnswerBytes): is the address a Prometheus server?", b.limit)
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}
