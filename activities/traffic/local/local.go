// Package local is the TrafficRouter for the demo's local router
// (demo/router): it moves and reads the canary weight through the router's
// admin API at spec.traffic.local.adminURL.
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/canaryflow/canaryflow/rollout"
)

// MaxAnswerBytes bounds what is read from the router: its answers are a few
// bytes, and an adminURL pointing at something else must not be read whole.
// A longer answer is an error that says so.
const MaxAnswerBytes = 64 << 10

// Router talks to one or more local routers; the address comes from each
// spec, so one Router serves every rollout. Its methods are safe to call
// twice and concurrently.
type Router struct {
	client *http.Client
}

// New returns a Router using client; nil means a client with a 10 s timeout,
// so a hung router becomes a retryable error instead of a stuck activity.
func New(client *http.Client) *Router {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Router{client: client}
}

type weightBody struct {
	Weight *int `json:"weight"`
}

// SetWeight asks the router for weight and checks the weight it answers
// with. A refusal (4xx) wraps rollout.ErrPermanent with the router's reason,
// since asking again cannot change the answer; a 5xx or a connection failure
// is a plain error the activity retries. Errors name the router with its
// URL redacted: an adminURL may carry credentials or a token.
func (r *Router) SetWeight(ctx context.Context, spec rollout.Spec, weight int) error {
	return rollout.RedactError(r.setWeight(ctx, spec, weight), adminURL(spec))
}

func (r *Router) setWeight(ctx context.Context, spec rollout.Spec, weight int) error {
	if weight < 0 || weight > 100 {
		return fmt.Errorf("setting canary weight %d: must be between 0 and 100: %w", weight, rollout.ErrPermanent)
	}
	endpoint, err := weightURL(spec)
	if err != nil {
		return err
	}
	body, err := json.Marshal(weightBody{Weight: &weight})
	if err != nil {
		return fmt.Errorf("encoding weight %d: %w", weight, err)
	}
	got, err := r.do(ctx, http.MethodPut, endpoint, body)
	if err != nil {
		return fmt.Errorf("setting canary weight %d at %s: %w", weight, rollout.RedactURL(endpoint), err)
	}
	if got != weight {
		return fmt.Errorf("setting canary weight %d at %s: router answered weight %d", weight, rollout.RedactURL(endpoint), got)
	}
	return nil
}

// Weight reads the canary weight the router is serving; errors are redacted
// like SetWeight's.
func (r *Router) Weight(ctx context.Context, spec rollout.Spec) (int, error) {
	w, err := r.weight(ctx, spec)
	return w, rollout.RedactError(err, adminURL(spec))
}

func (r *Router) weight(ctx context.Context, spec rollout.Spec) (int, error) {
	endpoint, err := weightURL(spec)
	if err != nil {
		return 0, err
	}
	got, err := r.do(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return 0, fmt.Errorf("reading canary weight at %s: %w", rollout.RedactURL(endpoint), err)
	}
	return got, nil
}

func adminURL(spec rollout.Spec) string {
	if spec.Traffic.Local == nil {
		return ""
	}
	return spec.Traffic.Local.AdminURL
}

// weightURL is the admin API's /weight under adminURL; a query string on
// adminURL (a token) is kept and sent.
func weightURL(spec rollout.Spec) (string, error) {
	if spec.Traffic.Local == nil || spec.Traffic.Local.AdminURL == "" {
		return "", fmt.Errorf("traffic.local.adminURL is required for traffic kind local: %w", rollout.ErrPermanent)
	}
	u, err := url.Parse(spec.Traffic.Local.AdminURL)
	if err != nil {
		return "", fmt.Errorf("traffic.local.adminURL %q is not a URL: %w", rollout.RedactURL(spec.Traffic.Local.AdminURL), rollout.ErrPermanent)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/weight"
	u.RawPath = ""
	return u.String(), nil
}

// do sends one request to /weight and returns the weight in the answer.
func (r *Router) do(ctx context.Context, method, endpoint string, body []byte) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	if err != nil {
		// Only a malformed adminURL gets here; retrying cannot fix it.
		return 0, fmt.Errorf("building request: %w: %w", err, rollout.ErrPermanent)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("calling router: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return 0, fmt.Errorf("reading router answer (status %d): %w", resp.StatusCode, err)
	}
	if len(raw) > MaxAnswerBytes {
		return 0, fmt.Errorf("router answer (status %d) is larger than %d bytes: is traffic.local.adminURL the router's admin listener?", resp.StatusCode, MaxAnswerBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, statusError(resp.StatusCode, raw)
	}
	var wb weightBody
	if err := json.Unmarshal(raw, &wb); err != nil || wb.Weight == nil {
		return 0, fmt.Errorf("router answered 200 without a weight: %q", truncate(raw))
	}
	return *wb.Weight, nil
}

// statusError classifies a non-200 answer. 408 and 429 are 4xx but mean
// "not now", so they stay retryable like 5xx.
func statusError(code int, raw []byte) error {
	if code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests {
		return fmt.Errorf("router refused with %d %s: %s: %w", code, http.StatusText(code), reason(raw), rollout.ErrPermanent)
	}
	return fmt.Errorf("router answered %d %s: %s", code, http.StatusText(code), reason(raw))
}

// reason is the router's {"error": "..."} message, or the body as text.
func reason(raw []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return e.Error
	}
	if s := truncate(raw); s != "" {
		return s
	}
	return "no reason given"
}

func truncate(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
