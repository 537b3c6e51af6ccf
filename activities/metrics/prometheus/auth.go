package prometheus

import (
	"net/http"
	"net/url"
	"strings"
)

// credentials are the worker's own for its Prometheus, the one its default
// address names. A spec cannot carry credentials (it is stored in the
// rollout's history), so these are the only ones sent; and they are sent to
// that server only, so a spec naming another address cannot collect them.
type credentials struct {
	origin         string // scheme://host:port they are sent to
	user, password string
	basic          bool
	token          string
	// secrets are what the worker's address and token hold, for scrubbing
	// from an answer that echoes them.
	known  []string
	values []string
}

// splitCredentials returns address without its user:password, and the
// credentials the address carried together with token (token wins over
// user:password when both are given). An address without a scheme is taken
// as http://, as client does.
func splitCredentials(address, token string) (string, *credentials) {
	if address == "" {
		return "", nil
	}
	full := address
	if !strings.Contains(full, "://") {
		full = "http://" + full
	}
	u, err := url.Parse(full)
	if err != nil || (u.User == nil && token == "") {
		// An unparseable address fails in client, redacted, on use.
		return address, nil
	}
	c := &credentials{origin: origin(u), token: token, known: []string{full}}
	if token != "" {
		c.values = []string{token}
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
		c.basic = true
		u.User = nil
	}
	return u.String(), c
}

// origin is what decides whether a request goes to the worker's server:
// scheme, host and port, with the scheme's default port filled in.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// authTransport adds the worker's credentials to requests for its server
// that carry no Authorization of their own.
type authTransport struct {
	rt    http.RoundTripper
	creds *credentials
}

// RoundTrip sends req, authenticated when it goes to the worker's server.
func (t authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" || origin(req.URL) != t.creds.origin {
		return t.rt.RoundTrip(req)
	}
	// A RoundTripper must not change the request it was given.
	r := req.Clone(req.Context())
	if t.creds.token != "" {
		r.Header.Set("Authorization", "Bearer "+t.creds.token)
	} else if t.creds.basic {
		r.SetBasicAuth(t.creds.user, t.creds.password)
	}
	return t.rt.RoundTrip(r)
}
