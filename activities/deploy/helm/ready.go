package helm

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/canaryflow/canaryflow/rollout"
)

// deploymentReady reports whether the Deployment has rolled out image on
// every replica: the controller saw the latest spec, every replica is
// updated and available, and no old replica is left.
func deploymentReady(ctx context.Context, cs kubernetes.Interface, ns, name, image string) (bool, string, error) {
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, fmt.Sprintf("Deployment %s/%s does not exist yet", ns, name), nil
	}
	if err != nil {
		return false, "", fmt.Errorf("reading Deployment %s/%s: %w", ns, name, err)
	}
	if got := containerImages(dep); !strings.Contains(got, image) {
		return false, fmt.Sprintf("Deployment %s/%s runs %s, not %s yet", ns, name, got, image), nil
	}
	want := int32(1)
	if dep.Spec.Replicas != nil {
		want = *dep.Spec.Replicas
	}
	st := dep.Status
	switch {
	case st.ObservedGeneration < dep.Generation:
		return false, fmt.Sprintf("Deployment %s/%s: controller has not seen generation %d", ns, name, dep.Generation), nil
	case failed(dep) != "":
		return false, "", fmt.Errorf("Deployment %s/%s: %s: %w", ns, name, failed(dep), rollout.ErrPermanent)
	case st.UpdatedReplicas < want, st.AvailableReplicas < want, st.Replicas > st.UpdatedReplicas:
		return false, fmt.Sprintf("Deployment %s/%s: %d/%d updated, %d/%d available, %d old", ns, name,
			st.UpdatedReplicas, want, st.AvailableReplicas, want, st.Replicas-st.UpdatedReplicas), nil
	}
	return true, fmt.Sprintf("Deployment %s/%s: %d/%d ready", ns, name, st.AvailableReplicas, want), nil
}

func containerImages(dep *appsv1.Deployment) string {
	var imgs []string
	for _, c := range dep.Spec.Template.Spec.Containers {
		imgs = append(imgs, c.Image)
	}
	return strings.Join(imgs, ",")
}

// failed returns why a rollout cannot progress (ProgressDeadlineExceeded),
// so a stuck Deployment ends the wait with its reason instead of a timeout.
func failed(dep *appsv1.Deployment) string {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded" {
			return c.Message
		}
	}
	return ""
}
