package charts_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The charts under test, relative to this package.
var (
	appChart    = filepath.Join(".", "app")
	workerChart = filepath.Join(".", "canaryflow-worker")
)

// rendered is a chart's output: every object's JSON by kind and name, the
// test hooks included, so a test can decode the one it checks into its
// typed API struct.
type rendered struct {
	objects map[string]map[string][]byte // kind → [namespace/]name → JSON
}

// loadChart loads a chart directory.
func loadChart(t testing.TB, dir string) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(dir)
	require.NoError(t, err, "loading chart %s", dir)
	return ch
}

// renderChart renders dir as release in namespace with vals, as `helm
// template` does (client-only dry run, with the chart's schema validated).
func renderChart(t testing.TB, dir, release, namespace string, vals map[string]any) (*rendered, error) {
	t.Helper()
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.ReleaseName = release
	inst.Namespace = namespace
	rel, err := inst.Run(loadChart(t, dir), vals)
	if err != nil {
		return nil, fmt.Errorf("rendering %s as %s: %w", dir, release, err)
	}
	docs := []string{rel.Manifest}
	for _, h := range rel.Hooks {
		docs = append(docs, h.Manifest)
	}
	r := &rendered{objects: map[string]map[string][]byte{}}
	for _, doc := range docs {
		for _, m := range releaseutil.SplitManifests(doc) {
			if err := r.add(m); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// mustRender is renderChart that fails t on an error.
func mustRender(t testing.TB, dir, release, namespace string, vals map[string]any) *rendered {
	t.Helper()
	r, err := renderChart(t, dir, release, namespace, vals)
	require.NoError(t, err)
	return r
}

func (r *rendered) add(manifest string) error {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	js, err := yaml.YAMLToJSONStrict([]byte(manifest))
	if err != nil {
		return fmt.Errorf("rendered YAML does not parse: %w\n%s", err, manifest)
	}
	if err := yaml.Unmarshal(js, &head); err != nil {
		return fmt.Errorf("rendered object has no kind and name: %w\n%s", err, manifest)
	}
	if head.Kind == "" || head.Metadata.Name == "" {
		return fmt.Errorf("rendered object has no kind or name:\n%s", manifest)
	}
	if r.objects[head.Kind] == nil {
		r.objects[head.Kind] = map[string][]byte{}
	}
	key := head.Metadata.Name
	if head.Metadata.Namespace != "" {
		// Objects of one kind in several namespaces (the worker's Roles) share a name.
		key = head.Metadata.Namespace + "/" + key
	}
	if _, dup := r.objects[head.Kind][key]; dup {
		return fmt.Errorf("rendered two %s objects named %s", head.Kind, key)
	}
	r.objects[head.Kind][key] = js
	return nil
}

// names lists the rendered objects of kind, sorted.
func (r *rendered) names(kind string) []string {
	var out []string
	for n := range r.objects[kind] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// all lists every rendered object as kind/[namespace/]name, sorted.
func (r *rendered) all() []string {
	var out []string
	for k, objs := range r.objects {
		for n := range objs {
			out = append(out, k+"/"+n)
		}
	}
	sort.Strings(out)
	return out
}

// get decodes the rendered object kind/name into T strictly: a field the
// API type does not have (a typo in a template) fails the test.
func get[T any](t testing.TB, r *rendered, kind, name string) T {
	t.Helper()
	var out T
	js, ok := r.objects[kind][name]
	require.True(t, ok, "no %s %q rendered; have %v", kind, name, r.all())
	require.NoError(t, yaml.UnmarshalStrict(js, &out), "decoding %s %s", kind, name)
	return out
}

// meta decodes the metadata of the rendered object kind/name.
func meta(t testing.TB, r *rendered, kind, name string) metav1.ObjectMeta {
	t.Helper()
	var obj struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	require.NoError(t, yaml.Unmarshal(r.objects[kind][name], &obj), "decoding %s %s", kind, name)
	return obj.Metadata
}

// lintMessages runs Helm's linter on dir with vals (schema included) and
// returns its messages of severity min or above.
func lintMessages(dir, namespace string, vals map[string]any, min int) []string {
	var out []string
	for _, m := range lint.All(dir, vals, namespace, false).Messages {
		if m.Severity >= min {
			out = append(out, m.Error())
		}
	}
	return out
}

// lintChart fails t on any lint warning or error for dir with vals.
func lintChart(t testing.TB, dir, namespace string, vals map[string]any) {
	t.Helper()
	require.Empty(t, lintMessages(dir, namespace, vals, support.WarningSev), "helm lint %s", dir)
}

// values builds a values map from dotted keys, as `--set` would, but with
// Go types (so an int stays an int).
func values(kv ...any) map[string]any {
	out := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		path := strings.Split(kv[i].(string), ".")
		m := out
		for _, p := range path[:len(path)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[path[len(path)-1]] = kv[i+1]
	}
	return out
}
