package gatewayapi

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// gatewayModule is the module whose CRDs the test installs: the same one
// (and, through go.mod, the same version) the router's client is built from.
const gatewayModule = "sigs.k8s.io/gateway-api"

// httpRouteCRD is the standard-channel HTTPRoute CRD inside the module.
const httpRouteCRD = "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installHTTPRouteCRD creates the HTTPRoute CRD from the gateway-api
// module's own copy (found with `go list -m`, so a version bump in go.mod
// brings its CRD along) and waits until the API server serves it.
func installHTTPRouteCRD(t *testing.T, cfg *rest.Config) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", gatewayModule).Output()
	require.NoError(t, err, "finding the %s module directory", gatewayModule)
	dir := strings.TrimSpace(string(out))
	require.NotEmpty(t, dir, "%s is not in the module cache; run go mod download", gatewayModule)
	text, err := os.ReadFile(filepath.Join(dir, httpRouteCRD))
	require.NoError(t, err)

	var crd unstructured.Unstructured
	require.NoError(t, yaml.Unmarshal(text, &crd.Object))
	require.Equal(t, "CustomResourceDefinition", crd.GetKind())

	client, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	crds := client.Resource(crdResource)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = crds.Create(ctx, &crd, metav1.CreateOptions{})
	require.NoError(t, err, "creating the HTTPRoute CRD")

	routes := client.Resource(schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"})
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		got, err := crds.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				// Established can precede the resource being served by a moment.
				_, err := routes.Namespace("default").List(ctx, metav1.ListOptions{})
				return err == nil, nil
			}
		}
		return false, nil
	})
	require.NoError(t, err, "waiting for the HTTPRoute CRD to be established")
}
