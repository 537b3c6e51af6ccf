// Package kubeconfig gives the Kubernetes providers (the nginx and
// gatewayapi routers) their API server connection: a Loader resolves a
// *rest.Config from a kubeconfig file or the in-cluster ServiceAccount,
// once per kube context, and Classify sorts the API errors they get into
// the ones a retry can fix and the ones it cannot.
package kubeconfig

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/canaryflow/canaryflow/rollout"
)

// DefaultTimeout bounds each API request when the kubeconfig sets no
// timeout: a hung API server then fails a request (which the activity
// retries) instead of holding it until the activity's own timeout.
const DefaultTimeout = 30 * time.Second

// Loader resolves API server connections for the worker. With Kubeconfig
// set it reads that file only; without, it follows kubectl's rules (the
// KUBECONFIG variable, then ~/.kube/config) and falls back to the
// in-cluster ServiceAccount when none of them names a cluster.
//
// A Loader is safe for concurrent use; its zero value (no explicit file)
// is ready to use. It must not be copied after first use.
type Loader struct {
	// Kubeconfig is an explicit kubeconfig path; "" means kubectl's rules
	// with the in-cluster fallback.
	Kubeconfig string
	// Timeout is the per-request timeout used when the kubeconfig sets
	// none; 0 means DefaultTimeout.
	Timeout time.Duration

	mu    sync.Mutex
	cache map[string]*rest.Config
}

// Config returns the connection for kubeContext, a context of the
// kubeconfig ("" means its current context, or in-cluster). Results are
// cached per context for the Loader's life, so a worker reads its
// kubeconfig once, not on every activity; failures are not cached. The
// returned config is the caller's own copy.
//
// A context the kubeconfig does not have, or no configuration at all, is an
// error wrapping rollout.ErrPermanent: retrying cannot make it appear.
func (l *Loader) Config(kubeContext string) (*rest.Config, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cfg, ok := l.cache[kubeContext]; ok {
		return rest.CopyConfig(cfg), nil
	}
	cfg, err := l.load(kubeContext)
	if err != nil {
		return nil, err
	}
	if l.cache == nil {
		l.cache = make(map[string]*rest.Config)
	}
	l.cache[kubeContext] = cfg
	return rest.CopyConfig(cfg), nil
}

func (l *Loader) load(kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	source := "the default kubeconfig (KUBECONFIG, ~/.kube/config) or in-cluster config"
	if l.Kubeconfig != "" {
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: l.Kubeconfig}
		source = "kubeconfig " + l.Kubeconfig
	}
	what := "loading Kubernetes client config from " + source
	if kubeContext != "" {
		what += fmt.Sprintf(" for context %q", kubeContext)
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kubeContext}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	if kubeContext != "" {
		// clientcmd reports a missing context as plain text; checking first
		// makes it permanent and lists what there is instead.
		raw, err := cc.RawConfig()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if _, ok := raw.Contexts[kubeContext]; !ok {
			have := slices.Sorted(maps.Keys(raw.Contexts))
			return nil, fmt.Errorf("%s: no such context (the kubeconfig has %q): %w", what, have, rollout.ErrPermanent)
		}
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsContextNotFound(err) || clientcmd.IsEmptyConfig(err) || clientcmd.IsConfigurationInvalid(err) {
			return nil, fmt.Errorf("%s: %w (%w)", what, err, rollout.ErrPermanent)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = l.Timeout
		if cfg.Timeout == 0 {
			cfg.Timeout = DefaultTimeout
		}
	}
	return cfg, nil
}
