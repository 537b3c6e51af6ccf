package kube

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// pollInterval is how often readiness is probed: components become ready
// within seconds, so a short interval is most of the difference between a
// slow and a quick start.
const pollInterval = 100 * time.Millisecond

// waitFor polls probe until it succeeds, comp exits (an error with its exit
// status and last output, marked as a port clash when it could not bind),
// or ctx ends (an error with the last probe failure and comp's output).
func waitFor(ctx context.Context, comp *component, what string, probe func(context.Context) error) error {
	var last error
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		if comp.proc.Exited() {
			return false, comp.exitedError(what)
		}
		last = probe(ctx)
		return last == nil, nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("waiting for %s (last error: %v); last output of %s:\n%s: %w", what, last, comp.name, comp.proc.LogTail(), err)
	default:
		return err
	}
}

// exitedError says a component died before it was ready; a port taken
// since it was chosen becomes a *portError so Start retries.
func (comp *component) exitedError(what string) error {
	// Stop reaps it and returns its exit status with its output.
	err := fmt.Errorf("%s died while waiting for %s: %w", comp.name, what, comp.proc.Stop())
	if strings.Contains(comp.proc.LogTail(), "address already in use") {
		return &portError{err: err}
	}
	return err
}

// insecureLoopback probes the controller manager's and scheduler's health
// endpoints. They serve HTTPS with certificates they generate at start, so
// there is nothing to verify against; the probe only reads "ok" from a
// loopback port this process picked.
var insecureLoopback = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // see above
}

// waitHTTP waits until url answers 200.
func waitHTTP(ctx context.Context, comp *component, url string) error {
	return waitFor(ctx, comp, comp.name+" at "+url, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("building the request: %w", err)
		}
		resp, err := insecureLoopback.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		}
		return nil
	})
}

// waitAPIServer waits until /readyz passes with admin credentials: every
// post-start hook has run, including the RBAC bootstrap roles, so clients
// and components are authorized from the first request.
func (c *ControlPlane) waitAPIServer(ctx context.Context, comp *component) error {
	return waitFor(ctx, comp, "kube-apiserver at "+c.config.Host+"/readyz", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

// waitNodeReady waits until kwok has made the fake node Ready (its
// node/fast stage), so pods can be scheduled onto it.
func (c *ControlPlane) waitNodeReady(ctx context.Context, kwok *component) error {
	return waitFor(ctx, kwok, "node "+c.nodeName+" to be Ready", func(ctx context.Context) error {
		node, err := c.client.CoreV1().Nodes().Get(ctx, c.nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("not Ready yet")
	})
}

// waitDefaultServiceAccount waits for the controller manager to create the
// "default" ServiceAccount in namespace "default": until it exists the
// ServiceAccount admission plugin refuses every pod there.
func (c *ControlPlane) waitDefaultServiceAccount(ctx context.Context, kcm *component) error {
	return waitFor(ctx, kcm, "ServiceAccount default/default", func(ctx context.Context) error {
		_, err := c.client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}
