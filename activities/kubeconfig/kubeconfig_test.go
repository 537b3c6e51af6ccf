package kubeconfig

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/rest"

	"github.com/canaryflow/canaryflow/rollout"
)

// writeKubeconfig writes a kubeconfig with contexts "alpha" (current) and
// "beta", pointing at alphaHost and https://beta.example:6443.
func writeKubeconfig(t *testing.T, path, alphaHost string) {
	t.Helper()
	text := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: alpha
clusters:
- name: alpha
  cluster: {server: %q, insecure-skip-tls-verify: true}
- name: beta
  cluster: {server: "https://beta.example:6443", insecure-skip-tls-verify: true}
users:
- name: alpha-user
  user: {token: alpha-token}
- name: beta-user
  user: {token: beta-token}
contexts:
- name: alpha
  context: {cluster: alpha, user: alpha-user}
- name: beta
  context: {cluster: beta, user: beta-user}
`, alphaHost)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
}

func TestLoaderPicksTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeKubeconfig(t, path, "https://alpha.example:6443")
	l := &Loader{Kubeconfig: path}

	cfg, err := l.Config("")
	require.NoError(t, err)
	assert.Equal(t, "https://alpha.example:6443", cfg.Host, "\"\" is the current context")
	assert.Equal(t, "alpha-token", cfg.BearerToken)
	assert.Equal(t, DefaultTimeout, cfg.Timeout, "a kubeconfig without a timeout gets the default")

	cfg, err = l.Config("beta")
	require.NoError(t, err)
	assert.Equal(t, "https://beta.example:6443", cfg.Host)
	assert.Equal(t, "beta-token", cfg.BearerToken)

	_, err = l.Config("gamma")
	require.Error(t, err)
	assert.ErrorIs(t, err, rollout.ErrPermanent, "a context the kubeconfig lacks never appears by retrying")
	assert.Contains(t, err.Error(), `context "gamma"`)
	assert.Contains(t, err.Error(), `["alpha" "beta"]`, "names the contexts there are")
	assert.Contains(t, err.Error(), path)
}

func TestLoaderTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeKubeconfig(t, path, "https://alpha.example:6443")
	cfg, err := (&Loader{Kubeconfig: path, Timeout: 3 * time.Second}).Config("")
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, cfg.Timeout)
}

// A worker reads its kubeconfig once per context, and what it hands out is
// a copy a caller may change without changing the next caller's.
func TestLoaderCachesPerContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeKubeconfig(t, path, "https://alpha.example:6443")
	l := &Loader{Kubeconfig: path}

	first, err := l.Config("")
	require.NoError(t, err)
	first.Host = "https://changed-by-a-caller.example"
	first.BearerToken = "changed"

	writeKubeconfig(t, path, "https://alpha-moved.example:6443")
	again, err := l.Config("")
	require.NoError(t, err)
	assert.Equal(t, "https://alpha.example:6443", again.Host, "cached, and the caller's edit did not leak in")
	assert.Equal(t, "alpha-token", again.BearerToken)

	beta, err := l.Config("beta")
	require.NoError(t, err, "another context is loaded on its own")
	assert.Equal(t, "https://beta.example:6443", beta.Host)

	fresh, err := (&Loader{Kubeconfig: path}).Config("")
	require.NoError(t, err)
	assert.Equal(t, "https://alpha-moved.example:6443", fresh.Host)
}

// A failure is not cached: a kubeconfig that appears later is used.
func TestLoaderRetriesAfterAFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	l := &Loader{Kubeconfig: path}
	_, err := l.Config("")
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)

	writeKubeconfig(t, path, "https://alpha.example:6443")
	cfg, err := l.Config("")
	require.NoError(t, err)
	assert.Equal(t, "https://alpha.example:6443", cfg.Host)
}

// Without an explicit path the Loader follows kubectl: KUBECONFIG first.
func TestLoaderFollowsKUBECONFIG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeKubeconfig(t, path, "https://from-env.example:6443")
	t.Setenv("KUBECONFIG", path)
	var l Loader
	cfg, err := l.Config("")
	require.NoError(t, err)
	assert.Equal(t, "https://from-env.example:6443", cfg.Host)
}

// With no kubeconfig anywhere and not in a pod, there is nothing to connect
// to; retrying cannot change that.
func TestLoaderWithoutAnyConfig(t *testing.T) {
	// clientcmd reads $HOME once, at init; a KUBECONFIG naming only a file
	// that does not exist keeps it from looking there.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "absent"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	var l Loader
	_, err := l.Config("")
	require.Error(t, err)
	assert.ErrorIs(t, err, rollout.ErrPermanent)

	_, err = l.Config("prod")
	require.Error(t, err)
	assert.ErrorIs(t, err, rollout.ErrPermanent)
	assert.Contains(t, err.Error(), `"prod"`)
}

func TestLoaderConcurrentUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeKubeconfig(t, path, "https://alpha.example:6443")
	l := &Loader{Kubeconfig: path}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ctxName := []string{"", "alpha", "beta"}[i%3]
			cfg, err := l.Config(ctxName)
			assert.NoError(t, err)
			assert.NotEmpty(t, cfg.Host)
		})
	}
	wg.Wait()
}

func TestClientsBuildOncePerContext(t *testing.T) {
	var built []string
	fail := true
	config := func(kubeContext string) (*rest.Config, error) {
		return &rest.Config{Host: "https://" + kubeContext + ".example"}, nil
	}
	c := NewClients(config, func(cfg *rest.Config) (string, error) {
		if cfg.Host == "https://broken.example" && fail {
			return "", errors.New("boom")
		}
		built = append(built, cfg.Host)
		return cfg.Host, nil
	})
	for range 3 {
		cl, err := c.For("a")
		require.NoError(t, err)
		assert.Equal(t, "https://a.example", cl)
	}
	cl, err := c.For("b")
	require.NoError(t, err)
	assert.Equal(t, "https://b.example", cl)
	assert.Equal(t, []string{"https://a.example", "https://b.example"}, built)

	_, err = c.For("broken")
	require.ErrorContains(t, err, `context "broken": boom`)
	fail = false
	cl, err = c.For("broken")
	require.NoError(t, err, "a failed build is not cached")
	assert.Equal(t, "https://broken.example", cl)
}

func TestClientsPassConfigErrorsThrough(t *testing.T) {
	c := NewClients(func(string) (*rest.Config, error) {
		return nil, fmt.Errorf("no such context: %w", rollout.ErrPermanent)
	}, func(*rest.Config) (int, error) { return 1, nil })
	_, err := c.For("x")
	assert.ErrorIs(t, err, rollout.ErrPermanent)
}

func TestClassify(t *testing.T) {
	gr := schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "httproutes"}
	gk := schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "HTTPRoute"}
	permanent := map[string]error{
		"forbidden":    apierrors.NewForbidden(gr, "shop", errors.New("RBAC says no")),
		"unauthorized": apierrors.NewUnauthorized("token expired"),
		"invalid":      apierrors.NewInvalid(gk, "shop", field.ErrorList{field.Invalid(field.NewPath("spec"), 1, "bad")}),
		"bad request":  apierrors.NewBadRequest("nonsense"),
		"too large":    apierrors.NewRequestEntityTooLargeError("too big"),
	}
	retryable := map[string]error{
		"conflict":             apierrors.NewConflict(gr, "shop", errors.New("changed")),
		"timeout":              apierrors.NewTimeoutError("slow", 1),
		"server timeout":       apierrors.NewServerTimeout(gr, "update", 1),
		"internal error":       apierrors.NewInternalError(errors.New("etcd hiccup")),
		"unavailable":          apierrors.NewServiceUnavailable("starting"),
		"too many requests":    apierrors.NewTooManyRequests("slow down", 1),
		"connection refused":   &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
		"not found (caller's)": apierrors.NewNotFound(gr, "shop"),
	}
	for name, err := range permanent {
		got := Classify("updating HTTPRoute prod/shop", err)
		assert.ErrorIs(t, got, rollout.ErrPermanent, name)
		assert.ErrorIs(t, got, err, name)
		assert.Contains(t, got.Error(), "updating HTTPRoute prod/shop: ", name)
	}
	for name, err := range retryable {
		got := Classify("updating HTTPRoute prod/shop", err)
		assert.NotErrorIs(t, got, rollout.ErrPermanent, name)
		assert.ErrorIs(t, got, err, name)
		assert.Contains(t, got.Error(), "updating HTTPRoute prod/shop: ", name)
	}
	assert.NoError(t, Classify("anything", nil))
}
