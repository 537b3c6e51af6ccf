package charts_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// The worker chart's release in the tests, and the namespace it runs in.
const (
	workerRelease   = "canaryflow-worker"
	workerNamespace = "canaryflow"
)

// workerRules are exactly the permissions the providers use in a target
// namespace: Helm's release Secrets; the app chart's objects, which Helm
// installs, upgrades, tests and uninstalls and the routers edit; and what
// the readiness checks read.
var workerRules = func() []rbacv1.PolicyRule {
	manage := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	read := []string{"get", "list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "create", "update", "patch", "delete"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: manage},
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: manage},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: manage},
		{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: manage},
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"httproutes"}, Verbs: manage},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: read},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: read},
	}
}()

// TestWorkerChartDefaults renders the worker chart with its defaults: the
// worker runs as its own ServiceAccount, granted only in the release's
// namespace (a Role, never a ClusterRole), with the Temporal address and
// namespace in the environment and a metrics port.
func TestWorkerChartDefaults(t *testing.T) {
	lintChart(t, workerChart, workerNamespace, nil)
	r := mustRender(t, workerChart, workerRelease, workerNamespace, nil)
	assert.Equal(t, []string{
		"Deployment/canaryflow/canaryflow-worker",
		"Role/canaryflow/canaryflow-worker",
		"RoleBinding/canaryflow/canaryflow-worker",
		"ServiceAccount/canaryflow/canaryflow-worker",
	}, r.all(), "no cluster-wide grant")

	role := get[rbacv1.Role](t, r, "Role", "canaryflow/canaryflow-worker")
	assert.Equal(t, workerRules, role.Rules)
	checkBinding(t, r, workerNamespace)

	d := get[appsv1.Deployment](t, r, "Deployment", "canaryflow/canaryflow-worker")
	pod := d.Spec.Template.Spec
	assert.Equal(t, "canaryflow-worker", pod.ServiceAccountName)
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	assert.Equal(t, "ghcr.io/canaryflow/worker:0.1.0", c.Image, "the tag defaults to the appVersion")
	assert.Equal(t, []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9464, Protocol: corev1.ProtocolTCP}}, c.Ports)
	assert.Equal(t, "9464", d.Spec.Template.Annotations["prometheus.io/port"])
	require.NotNil(t, c.LivenessProbe)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, "metrics", c.LivenessProbe.HTTPGet.Port.String())
	assert.Equal(t, "metrics", c.ReadinessProbe.HTTPGet.Port.String())

	env := envOf(c)
	assert.Equal(t, "temporal-frontend.temporal:7233", env["TEMPORAL_ADDRESS"].Value)
	assert.Equal(t, "default", env["TEMPORAL_NAMESPACE"].Value)
	for _, name := range []string{"TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_API_KEY", "SLACK_BOT_TOKEN"} {
		assert.NotContains(t, env, name, "not configured, so not set")
	}
	assert.Contains(t, c.Args, "--incident-dir=/var/lib/canaryflow/incidents")
	// The root filesystem is read-only; what the worker and Helm write goes to volumes.
	require.NotNil(t, c.SecurityContext)
	assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
	assert.ElementsMatch(t, []string{"/var/lib/canaryflow", "/tmp"}, mountPaths(c))
}

// TestWorkerChartTargetsAndCredentials renders the worker chart as a
// production install configures it: two target namespaces (one Role and
// RoleBinding in each, bound to the ServiceAccount in the release's
// namespace), mutual TLS from a Secret, an API key and a Slack token from
// Secrets — credentials reach the worker by reference, never as values.
func TestWorkerChartTargetsAndCredentials(t *testing.T) {
	vals := values(
		"targetNamespaces", []any{"shop", "payments"},
		"temporal.address", "prod.a1b2c.tmprl.cloud:7233",
		"temporal.namespace", "prod.a1b2c",
		"temporal.tls.secretName", "temporal-client",
		"temporal.tls.caKey", "ca.crt",
		"temporal.tls.serverName", "prod.a1b2c.tmprl.cloud",
		"temporal.apiKey.secretName", "temporal-api-key",
		"slack.tokenSecret.name", "slack",
		"slack.channel", "#deploys",
		"image.tag", "v0.2.0",
		"chartRoot", "/charts",
	)
	lintChart(t, workerChart, workerNamespace, vals)
	r := mustRender(t, workerChart, workerRelease, workerNamespace, vals)
	assert.Equal(t, []string{"payments/canaryflow-worker", "shop/canaryflow-worker"}, r.names("Role"))
	assert.Equal(t, []string{"payments/canaryflow-worker", "shop/canaryflow-worker"}, r.names("RoleBinding"))
	assert.Empty(t, r.names("ClusterRole"))
	assert.Empty(t, r.names("ClusterRoleBinding"))
	for _, ns := range []string{"shop", "payments"} {
		assert.Equal(t, workerRules, get[rbacv1.Role](t, r, "Role", ns+"/canaryflow-worker").Rules)
		checkBinding(t, r, ns)
	}

	d := get[appsv1.Deployment](t, r, "Deployment", "canaryflow/canaryflow-worker")
	c := d.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "ghcr.io/canaryflow/worker:v0.2.0", c.Image)
	env := envOf(c)
	for name, want := range map[string]string{
		"TEMPORAL_ADDRESS":                 "prod.a1b2c.tmprl.cloud:7233",
		"TEMPORAL_NAMESPACE":               "prod.a1b2c",
		"TEMPORAL_TLS":                     "true",
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    "/etc/temporal/tls/tls.crt",
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     "/etc/temporal/tls/tls.key",
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": "/etc/temporal/tls/ca.crt",
		"TEMPORAL_TLS_SERVER_NAME":         "prod.a1b2c.tmprl.cloud",
	} {
		assert.Equal(t, want, env[name].Value, name)
	}
	for name, ref := range map[string]corev1.SecretKeySelector{
		"TEMPORAL_API_KEY": {LocalObjectReference: corev1.LocalObjectReference{Name: "temporal-api-key"}, Key: "api-key"},
		"SLACK_BOT_TOKEN":  {LocalObjectReference: corev1.LocalObjectReference{Name: "slack"}, Key: "token"},
	} {
		require.NotNil(t, env[name].ValueFrom, name)
		assert.Equal(t, &ref, env[name].ValueFrom.SecretKeyRef, name)
		assert.Empty(t, env[name].Value, "%s is a reference, never a value", name)
	}
	assert.Contains(t, c.Args, "--slack-channel=#deploys")
	assert.Contains(t, c.Args, "--chart-root=/charts")

	assert.Contains(t, mountPaths(c), "/etc/temporal/tls")
	var tls *corev1.SecretVolumeSource
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "temporal-tls" {
			tls = v.Secret
		}
	}
	require.NotNil(t, tls, "the TLS Secret is mounted")
	assert.Equal(t, "temporal-client", tls.SecretName)
	assert.Equal(t, []corev1.KeyToPath{
		{Key: "tls.crt", Path: "tls.crt"}, {Key: "tls.key", Path: "tls.key"}, {Key: "ca.crt", Path: "ca.crt"},
	}, tls.Items)
}

// TestWorkerChartRefusesBadValues: a namespace or address the API server or
// the SDK would refuse later fails at install, naming the field.
func TestWorkerChartRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[string]any
		want string
	}{
		{"bad namespace", values("targetNamespaces", []any{"Shop_Prod"}), "at '/targetNamespaces/0'"},
		{"address without port", values("temporal.address", "temporal.example.com"), "at '/temporal/address'"},
		{"metrics port out of range", values("metrics.port", 70000), "at '/metrics/port': maximum: got 70,000, want 65,535"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChart(t, workerChart, workerRelease, workerNamespace, tc.vals)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func checkBinding(t *testing.T, r *rendered, ns string) {
	t.Helper()
	b := get[rbacv1.RoleBinding](t, r, "RoleBinding", ns+"/canaryflow-worker")
	assert.Equal(t, rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "canaryflow-worker"}, b.RoleRef)
	assert.Equal(t, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "canaryflow-worker", Namespace: workerNamespace}}, b.Subjects)
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		out[e.Name] = e
	}
	return out
}

func mountPaths(c corev1.Container) []string {
	var out []string
	for _, m := range c.VolumeMounts {
		out = append(out, m.MountPath)
	}
	return out
}
