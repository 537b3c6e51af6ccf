//go:build unix

package kube_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/canaryflow/canaryflow/internal/testenv"
)

// TestControlPlaneRollsOutADeployment is the control plane's whole promise:
// a Deployment created through the real API server is rolled out by the
// real controllers and scheduler onto the simulated node and becomes 3/3
// Ready, the credentials it hands out work (and RBAC is enforced for a
// ServiceAccount), and Stop leaves no process or file behind.
func TestControlPlaneRollsOutADeployment(t *testing.T) {
	begin := time.Now()
	cp := testenv.Kube(t)
	startup := time.Since(begin)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The kubeconfig file works on its own, as kubectl or Helm would use it.
	fromFile, err := clientcmd.BuildConfigFromFlags("", cp.KubeconfigPath())
	require.NoError(t, err)
	client, err := kubernetes.NewForConfig(fromFile)
	require.NoError(t, err)

	// Clients that check the server's version (Helm's kubeVersion) see a
	// release, not the v0.0.0-master of an unstamped build.
	v, err := client.Discovery().ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, "1", v.Major)
	assert.True(t, strings.HasPrefix(v.GitVersion, "v1."), "server version %q", v.GitVersion)

	created := time.Now()
	_, err = client.AppsV1().Deployments("default").Create(ctx, deployment("web", 3), metav1.CreateOptions{})
	require.NoError(t, err)
	var last *appsv1.Deployment
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = d
		return d.Status.ObservedGeneration >= d.Generation &&
			d.Status.UpdatedReplicas == 3 && d.Status.ReadyReplicas == 3 && d.Status.AvailableReplicas == 3, nil
	})
	require.NoError(t, err, "deployment never became 3/3 Ready; last status %+v\n%s", statusOf(last), cp.LogTail())
	ready := time.Since(created)
	t.Logf("control plane start-up %s; deployment 3/3 Ready %s after it was created", startup.Round(time.Millisecond), ready.Round(time.Millisecond))

	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	require.NoError(t, err)
	require.Len(t, pods.Items, 3)
	for _, p := range pods.Items {
		assert.Equal(t, cp.NodeName(), p.Spec.NodeName, "pod %s", p.Name)
		assert.Equal(t, corev1.PodRunning, p.Status.Phase, "pod %s", p.Name)
	}

	// A minted ServiceAccount token authenticates, and RBAC denies what no
	// role grants it.
	_, err = client.CoreV1().ServiceAccounts("default").Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	saConfig, err := cp.ServiceAccountConfig(ctx, "default", "probe")
	require.NoError(t, err)
	saClient, err := kubernetes.NewForConfig(saConfig)
	require.NoError(t, err)
	_, err = saClient.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{})
	assert.True(t, apierrors.IsForbidden(err), "a ServiceAccount with no role listed kube-system's Secrets: %v", err)

	pids := cp.Pids()
	require.Len(t, pids, 5)
	require.NoError(t, cp.Stop())
	for name, pid := range pids {
		// Each component led its own process group; nothing in it may remain.
		err := syscall.Kill(-pid, 0)
		assert.True(t, errors.Is(err, syscall.ESRCH), "%s (process group %d) still has processes after Stop: %v", name, pid, err)
	}
	_, err = os.Stat(cp.KubeconfigPath())
	assert.True(t, errors.Is(err, os.ErrNotExist), "Stop left the control plane's files behind: %v", err)
}

// deployment is a minimal Deployment of n replicas; the image is never
// pulled, since kwok simulates the containers.
func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: name, Image: "example.invalid/" + name + ":1"}},
				},
			},
		},
	}
}

func statusOf(d *appsv1.Deployment) any {
	if d == nil {
		return nil
	}
	return d.Status
}

func TestGatewayAPICRDsInstall(t *testing.T) {
	cp := testenv.Kube(t)
	require.NoError(t, cp.InstallGatewayAPI(context.Background()))
	require.NoError(t, cp.InstallGatewayAPI(context.Background()), "installing twice is fine")
	_, err := cp.Client().Discovery().ServerResourcesForGroupVersion("gateway.networking.k8s.io/v1")
	require.NoError(t, err, "the API server serves gateway.networking.k8s.io/v1")
}
