package kube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kwokStageFiles are the stage definitions tools/kube/install.sh copies out
// of kwok's module into stages/ beside the binary: node/fast
// (node-initialize), node/heartbeat, and pod/fast (ready, complete, delete).
var kwokStageFiles = []string{
	"node-initialize.yaml",
	"node-heartbeat.yaml",
	"pod-ready.yaml",
	"pod-complete.yaml",
	"pod-delete.yaml",
}

// kwokStages finds the stage files beside the real kwok binary (bin/kwok is
// a symlink into the build cache). kwok has no stages built in: without
// them it neither readies nodes nor runs pods.
func kwokStages(kwokBin string) ([]string, error) {
	real, err := filepath.EvalSymlinks(kwokBin)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", kwokBin, err)
	}
	dir := filepath.Join(filepath.Dir(real), "stages")
	files := make([]string, 0, len(kwokStageFiles))
	for _, name := range kwokStageFiles {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("kwok stage %s missing (run `make kube-tools`): %w", name, err)
		}
		files = append(files, path)
	}
	return files, nil
}

// createNode registers the simulated node. It is untainted, so ordinary
// pods (a chart's Deployments) schedule onto it without tolerations, and
// it is large enough that resource requests never leave a pod Pending.
func (c *ControlPlane) createNode(ctx context.Context) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: c.nodeName,
			Labels: map[string]string{
				"kubernetes.io/hostname": c.nodeName,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
			Annotations: map[string]string{
				"kwok.x-k8s.io/node":           "fake",
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the simulated node %s: %w", c.nodeName, err)
	}
	return nil
}
