package router

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzAdminAPI sends arbitrary requests — any method, path and body that
// an HTTP/1.1 server would hand to a handler — to the admin API of two
// routers, one capped at a max weight. The handler never panics, the weight
// never leaves 0..100 nor goes above the cap, a refused request changes
// nothing, an accepted PUT answers the weight now in force, and GET /weight
// reads the same weight back.
func FuzzAdminAPI(f *testing.F) {
	type seed struct{ method, path, body string }
	for _, s := range []seed{
		{"PUT", "/weight", `{"weight": 25}`},
		{"PUT", "/weight", `{"weight": 0}`},
		{"PUT", "/weight", `{"weight": 100}`},
		{"PUT", "/weight", `{"weight": 60}`},
		{"GET", "/weight", ``},
		{"GET", "/healthz", ``},
		{"GET", "/metrics", ``},
		// Out of range, overflowing, not integers, NaN-ish.
		{"PUT", "/weight", `{"weight": 101}`},
		{"PUT", "/weight", `{"weight": -1}`},
		{"PUT", "/weight", `{"weight": 4294967321}`},
		{"PUT", "/weight", `{"weight": -9223372036854775808}`},
		{"PUT", "/weight", `{"weight": 99999999999999999999}`},
		{"PUT", "/weight", `{"weight": 1e2}`},
		{"PUT", "/weight", `{"weight": 25.0}`},
		{"PUT", "/weight", `{"weight": 25.5}`},
		{"PUT", "/weight", `{"weight": "25"}`},
		{"PUT", "/weight", `{"weight": NaN}`},
		{"PUT", "/weight", `{"weight": Infinity}`},
		{"PUT", "/weight", `{"weight": 1e400}`},
		{"PUT", "/weight", `{"weight": -0}`},
		{"PUT", "/weight", `{"weight": null}`},
		{"PUT", "/weight", `{"weight": true}`},
		{"PUT", "/weight", `{"weight": [50]}`},
		// Shapes: nothing, other keys, duplicates, case, trailing data.
		{"PUT", "/weight", ``},
		{"PUT", "/weight", `{}`},
		{"PUT", "/weight", `null`},
		{"PUT", "/weight", `25`},
		{"PUT", "/weight", `{"weight": 10, "weight": 500}`},
		{"PUT", "/weight", `{"weight": 500, "WEIGHT": 10}`},
		{"PUT", "/weight", `{"Weight": 30}`},
		{"PUT", "/weight", `{"\u0077eight": 35}`},
		{"PUT", "/weight", `{"weight": 40, "max": 100}`},
		{"PUT", "/weight", `{"weight": 45} {"weight": 90}`},
		{"PUT", "/weight", `{"weight": 45} trailing`},
		{"PUT", "/weight", "\xef\xbb\xbf{\"weight\": 50}"},
		{"PUT", "/weight", `{"weight": 50` + strings.Repeat(" ", 5000) + `}`},
		{"PUT", "/weight", `{"weight": ` + strings.Repeat("9", 5000) + `}`},
		{"PUT", "/weight", strings.Repeat(`{"a":`, 10000)},
		// Other methods and paths.
		{"POST", "/weight", `{"weight": 55}`},
		{"PATCH", "/weight", `{"weight": 55}`},
		{"DELETE", "/weight", ``},
		{"put", "/weight", `{"weight": 55}`},
		{"PUT", "/weight/", `{"weight": 55}`},
		{"PUT", "//weight", `{"weight": 55}`},
		{"PUT", "/./weight", `{"weight": 55}`},
		{"PUT", "/x/../weight", `{"weight": 55}`},
		{"PUT", "/%77eight", `{"weight": 55}`},
		{"PUT", "/weight?weight=200", `{"weight": 55}`},
		{"PUT", "/weight#x", `{"weight": 55}`},
		{"PUT", "*", `{"weight": 55}`},
		{"PUT", "http://other.example/weight", `{"weight": 55}`},
		{"PUT", "/wéight", `{"weight": 55}`},
	} {
		f.Add(s.method, s.path, []byte(s.body))
	}

	open, err := New(Config{Stable: "http://127.0.0.1:1", Canary: "http://127.0.0.1:2", Logger: quietLogger()})
	require.NoError(f, err)
	capAt := 50
	capped, err := New(Config{Stable: "http://127.0.0.1:1", Canary: "http://127.0.0.1:2", Weight: 10,
		MaxWeight: &capAt, Logger: quietLogger()})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		for _, r := range []struct {
			router *Router
			max    int
		}{{open, 100}, {capped, capAt}} {
			req, ok := request(method, path, body)
			if !ok {
				return // no server would hand this request to a handler
			}
			before := r.router.Weight()
			rec := httptest.NewRecorder()
			r.router.AdminHandler().ServeHTTP(rec, req)
			after := r.router.Weight()

			require.GreaterOrEqual(t, after, 0, "%s %q %q", method, path, body)
			require.LessOrEqual(t, after, r.max, "%s %q %q", method, path, body)
			if rec.Code != http.StatusOK {
				require.Equal(t, before, after, "a refused request (%d) changes nothing: %s %q %q", rec.Code, method, path, body)
			}
			if rec.Code == http.StatusOK && req.Method == http.MethodPut {
				var got WeightBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), "an accepted PUT answers JSON: %q", rec.Body)
				require.Equal(t, after, got.Weight, "an accepted PUT answers the weight in force")
			}
			if rec.Code >= 400 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
				var e ErrorBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), "a refusal is JSON: %q", rec.Body)
				require.NotEmpty(t, e.Error)
			}

			get := httptest.NewRecorder()
			r.router.AdminHandler().ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/weight", nil))
			require.Equal(t, http.StatusOK, get.Code)
			var read WeightBody
			require.NoError(t, json.Unmarshal(get.Body.Bytes(), &read))
			require.Equal(t, after, read.Weight, "GET /weight reads the weight in force")
		}
	})
}

// request builds the request an HTTP/1.1 server would read from the wire
// for method, target and body, or false when it would refuse the request
// line itself.
func request(method, target string, body []byte) (*http.Request, bool) {
	if strings.ContainsAny(method+target, " \r\n") {
		return nil, false
	}
	wire := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: router.local\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		method, target, len(body))
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(wire + string(body))))
	if err != nil {
		return nil, false
	}
	return req, true
}
