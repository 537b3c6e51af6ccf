package kube

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

// gatewayAPIModule is the module whose standard-channel CRDs are installed;
// its version is the one the main go.mod requires, so the CRDs match the
// typed client the gatewayapi router uses.
const gatewayAPIModule = "sigs.k8s.io/gateway-api"

// gatewayAPICRDs are the standard-channel kinds the router and chart use.
var gatewayAPICRDs = []string{"gatewayclasses", "gateways", "httproutes", "referencegrants"}

// InstallGatewayAPI creates the Gateway API CRDs (from the module the
// project builds with, read from Go's module cache) and waits until the API
// server serves them. A test control plane has none by default.
func (c *ControlPlane) InstallGatewayAPI(ctx context.Context) error {
	dir, err := moduleDir(ctx, gatewayAPIModule)
	if err != nil {
		return err
	}
	cs, err := apiext.NewForConfig(c.RESTConfig())
	if err != nil {
		return fmt.Errorf("building an apiextensions client: %w", err)
	}
	for _, kind := range gatewayAPICRDs {
		path := filepath.Join(dir, "config", "crd", "standard", "gateway.networking.k8s.io_"+kind+".yaml")
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading the Gateway API CRD %s: %w", kind, err)
		}
		var crd apiextv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return fmt.Errorf("decoding the Gateway API CRD %s: %w", kind, err)
		}
		if _, err := cs.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the Gateway API CRD %s: %w", kind, err)
		}
		err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			got, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, cond := range got.Status.Conditions {
				if cond.Type == apiextv1.Established && cond.Status == apiextv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("waiting for the Gateway API CRD %s to be established: %w", kind, err)
		}
	}
	return nil
}

// moduleDir finds a module of the main build in Go's module cache.
func moduleDir(ctx context.Context, module string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		return "", fmt.Errorf("locating module %s (go list -m): %w", module, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("locating module %s: it is not downloaded (run go mod download)", module)
	}
	return dir, nil
}
