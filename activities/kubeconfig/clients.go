package kubeconfig

import (
	"fmt"
	"sync"

	"k8s.io/client-go/rest"
)

// ConfigFunc returns the connection for a kube context ("" is the default
// one); (*Loader).Config is one.
type ConfigFunc func(kubeContext string) (*rest.Config, error)

// Clients builds one client of type T per kube context and keeps it, so
// that every activity of a worker shares connections instead of dialling
// the API server anew. It is safe for concurrent use.
type Clients[T any] struct {
	config ConfigFunc
	build  func(*rest.Config) (T, error)

	mu      sync.Mutex
	clients map[string]T
}

// NewClients returns a cache building clients with build from the
// connections config returns; a nil config means a zero Loader's (kubectl's
// rules, then in-cluster).
func NewClients[T any](config ConfigFunc, build func(*rest.Config) (T, error)) *Clients[T] {
	if config == nil {
		config = (&Loader{}).Config
	}
	return &Clients[T]{config: config, build: build, clients: make(map[string]T)}
}

// For returns the client for kubeContext, building it on first use. A
// failure is returned as the config function or build reported it (a
// missing context is already permanent) and is not cached.
func (c *Clients[T]) For(kubeContext string) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[kubeContext]; ok {
		return cl, nil
	}
	var zero T
	cfg, err := c.config(kubeContext)
	if err != nil {
		return zero, err
	}
	cl, err := c.build(cfg)
	if err != nil {
		return zero, fmt.Errorf("building a Kubernetes client for context %q: %w", kubeContext, err)
	}
	c.clients[kubeContext] = cl
	return cl, nil
}
