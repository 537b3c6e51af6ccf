//go:build unix

package nginx

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/canaryflow/canaryflow/activities/kubeconfig"
	"github.com/canaryflow/canaryflow/rollout"
)

// kubeContexts: the spec's kubeContext picks the cluster. The kubeconfig's
// current context points at a port nobody listens on (a retryable
// connection refused, as when an API server restarts); the "test" context
// is the control plane; a context the kubeconfig lacks is permanent.
func (e *env) kubeContexts(t *testing.T) {
	spec := e.namespace(t)
	e.create(t, canaryIngress(spec))

	cfg, err := clientcmd.LoadFromFile(e.cp.KubeconfigPath())
	require.NoError(t, err)
	current := cfg.Contexts[cfg.CurrentContext]
	require.NotNil(t, current)
	test := *current
	cfg.Contexts["test"] = &test
	down := *cfg.Clusters[current.Cluster]
	down.Server = "https://" + closedAddr(t)
	cfg.Clusters["down"] = &down
	current.Cluster = "down"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	r := New((&kubeconfig.Loader{Kubeconfig: path}).Config)

	err = r.SetWeight(t.Context(), spec, 10)
	require.Error(t, err)
	assert.NotErrorIs(t, err, rollout.ErrPermanent, "connection refused is retried: %v", err)
	assert.ErrorContains(t, err, "connection refused")
	assert.ErrorContains(t, err, "Ingress "+spec.Namespace+"/shop-canary")

	spec.KubeContext = "test"
	require.NoError(t, r.SetWeight(t.Context(), spec, 10))
	w, err := r.Weight(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, 10, w)

	spec.KubeContext = "staging"
	err = r.SetWeight(t.Context(), spec, 10)
	require.ErrorIs(t, err, rollout.ErrPermanent)
	assert.ErrorContains(t, err, `context "staging"`)
	_, err = r.Weight(t.Context(), spec)
	require.ErrorIs(t, err, rollout.ErrPermanent)
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
