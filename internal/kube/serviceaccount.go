package kube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// tokenLifetime is how long minted ServiceAccount tokens last: beyond any
// test, and the API server's minimum is 10 minutes.
const tokenLifetime = 2 * 3600

// ServiceAccountConfig mints a token for the ServiceAccount namespace/name
// with the TokenRequest API and returns a client configuration that
// authenticates as it, so a test can check what that account may and may
// not do (as the worker chart's RBAC grants it). The ServiceAccount must exist.
func (c *ControlPlane) ServiceAccountConfig(ctx context.Context, namespace, name string) (*rest.Config, error) {
	exp := int64(tokenLifetime)
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}
	tok, err := c.client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("minting a token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return &rest.Config{
		Host:            c.config.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.certs.caPEM},
		BearerToken:     tok.Status.Token,
		QPS:             c.config.QPS,
		Burst:           c.config.Burst,
	}, nil
}

// ServiceAccountKubeconfig is ServiceAccountConfig written as a kubeconfig
// file (removed by Stop), for processes that take a path, such as the worker.
func (c *ControlPlane) ServiceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	cfg, err := c.ServiceAccountConfig(ctx, namespace, name)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(c.dir, "sa-"+namespace+"-"+name+"-*.kubeconfig")
	if err != nil {
		return "", fmt.Errorf("creating a kubeconfig for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	path := f.Name()
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("closing %s: %w", filepath.Base(path), err)
	}
	user := "system:serviceaccount:" + namespace + ":" + name
	if err := writeKubeconfig(path, cfg, user); err != nil {
		return "", err
	}
	return path, nil
}
