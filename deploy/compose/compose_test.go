package compose

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// readCompose returns the committed docker-compose.yml.
func readCompose(t *testing.T) (string, []byte) {
	t.Helper()
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, composeFile))
	require.NoError(t, err)
	return root, b
}

// checked runs every check on the committed file and fails the test on any problem.
func checked(t *testing.T) *stack {
	t.Helper()
	root, b := readCompose(t)
	s, err := checkStack(context.Background(), root, b)
	require.NoError(t, err, "docker-compose.yml fails its checks")
	return s
}

// wantServices is the stack the issue asks for: Temporal on PostgreSQL with its schema
// setup and UI, Prometheus, Grafana, the worker, and the demo's stable, canary, router, load
// and starter.
var wantServices = []string{
	"canary", "grafana", "load", "postgresql", "prometheus", "router", "stable", "starter",
	"temporal", "temporal-namespace", "temporal-schema", "temporal-ui", "worker",
}

func TestComposeFilePassesEveryCheck(t *testing.T) {
	s := checked(t)
	assert.Equal(t, wantServices, s.serviceNames())
	// The starter is on demand only: `docker compose up` leaves it out.
	assert.Equal(t, []string{cliProfile}, s.services["starter"].Profiles)
	for _, name := range s.serviceNames() {
		if s.oneShot(name) {
			continue
		}
		assert.True(t, hasHealthcheck(s.services[name]), "services.%s is long-running and has a healthcheck", name)
	}
	assert.ElementsMatch(t, []string{"starter", "temporal-namespace", "temporal-schema"},
		slices.DeleteFunc(s.serviceNames(), func(n string) bool { return !s.oneShot(n) }))
}

func TestEveryBuildNamesAStageOfAMultiStageDockerfileThatRunsAsNonRoot(t *testing.T) {
	s := checked(t)
	targets := map[string]string{}
	for _, name := range s.serviceNames() {
		if b := s.services[name].Build; b != nil {
			targets[name] = b.Target
			assert.Equal(t, s.root, b.Context, "services.%s builds from the repository root", name)
		}
	}
	assert.Equal(t, map[string]string{
		"canary": "demoapp", "stable": "demoapp", "load": "loadgen", "router": "router",
		"starter": "starter", "worker": "worker",
	}, targets)
	require.Len(t, s.dockerfiles, 1, "one Dockerfile serves every binary")
	for path, d := range s.dockerfiles {
		assert.Equal(t, filepath.Join(s.root, "deploy", "docker", "Dockerfile"), path)
		for _, target := range []string{"worker", "starter", "demoapp", "router", "loadgen"} {
			st := d.stage(target)
			require.NotNil(t, st, "stage %s", target)
			assert.Equal(t, "65532:65532", d.effectiveUser(st), "stage %s runs as the worker chart's runAsUser", target)
			assert.Equal(t, "runtime", st.base, "stage %s starts from the small runtime stage", target)
		}
		build := d.stage("build")
		require.NotNil(t, build)
		assert.True(t, strings.HasPrefix(build.base, "golang:1.26"), "the builder is Go 1.26, as go.mod: %s", build.base)
		assert.Equal(t, []string{"./worker", "./starter", "./demo/cmd/demoapp", "./demo/cmd/router", "./demo/cmd/loadgen"}, d.goBuildPackages())
	}
}

// TestBuildContextKeepsWhatTheImagesRead checks .dockerignore against what the Dockerfile
// reads from the context: go.mod, go.sum, every package directory the binaries are built
// from (as go list reports them) and the COPY sources.
func TestBuildContextKeepsWhatTheImagesRead(t *testing.T) {
	s := checked(t)
	ignore := readDockerignore(t, s.root)
	d := s.dockerfiles[filepath.Join(s.root, "deploy", "docker", "Dockerfile")]
	require.NotNil(t, d)
	need := append([]string{"go.mod", "go.sum"}, d.copySources()...)
	assert.Contains(t, need, "deploy/charts", "the worker image ships the charts")
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}"}, d.goBuildPackages()...)...)
	cmd.Dir = s.root
	out, err := cmd.Output()
	require.NoError(t, err, "go list of the packages the Dockerfile builds")
	for _, dir := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(s.root, dir); err == nil && !strings.HasPrefix(rel, "..") {
			need = append(need, filepath.ToSlash(rel))
		}
	}
	require.Greater(t, len(need), 20, "the binaries' own packages were listed")
	for _, p := range need {
		assert.False(t, ignore.excludes(p), ".dockerignore excludes %s, which the build reads", p)
	}
	for _, p := range []string{".git", "bin", "tools/temporal/go.mod", "rollout/testdata/x.yaml", "README.md"} {
		assert.True(t, ignore.excludes(p), ".dockerignore keeps %s out of the build context", p)
	}
}

// TestPublishedPortsAreLoopbackByDefault: Grafana's and the router's admin ports have no
// authentication worth the name, so a plain `docker compose up` publishes on 127.0.0.1 only.
func TestPublishedPortsAreLoopbackByDefault(t *testing.T) {
	root, b := readCompose(t)
	ctx := context.Background()
	hostPorts := func(env map[string]string) map[string]string {
		p, err := loadProject(ctx, root, b, env, false)
		require.NoError(t, err)
		got := map[string]string{}
		for name, svc := range p.AllServices() {
			for _, port := range svc.Ports {
				got[name+":"+port.Published] = port.HostIP
			}
		}
		return got
	}
	def := hostPorts(map[string]string{})
	assert.Equal(t, []string{
		"canary:8082", "grafana:3000", "prometheus:9090", "router:8080", "router:8090", "stable:8081",
		"temporal-ui:8233", "temporal:7233", "worker:9464",
	}, slices.Sorted(maps.Keys(def)))
	for k, ip := range def {
		assert.Equal(t, "127.0.0.1", ip, k)
	}
	for k, ip := range hostPorts(map[string]string{"CANARYFLOW_BIND_ADDRESS": "0.0.0.0"}) {
		assert.Equal(t, "0.0.0.0", ip, k)
	}
}

// TestPrometheusScrapesTheAppsTheWorkerAndTemporal reads the parsed configuration: every job
// the dashboard and the spec need is there with compose targets.
func TestPrometheusScrapesTheAppsTheWorkerAndTemporal(t *testing.T) {
	s := checked(t)
	require.NotNil(t, s.prometheus)
	assert.Equal(t, map[string][]string{
		"demo":              {"stable:8081", "canary:8081"},
		"router":            {"router:8090"},
		"canaryflow-worker": {"worker:9464"},
		"temporal":          {"temporal:8000"},
		"prometheus":        {"prometheus:9090"},
	}, s.targets)
	assert.Equal(t, []string{"/etc/prometheus/rules/*.yml"}, s.prometheus.RuleFiles)
	// The worker serves /metrics on the port Prometheus scrapes.
	v, ok := flagValue(args(s.services["worker"]), "metrics-address")
	require.True(t, ok)
	assert.Equal(t, ":9464", v)
}

func TestGrafanaProvisionsPrometheusAndTheCommittedDashboards(t *testing.T) {
	s := checked(t)
	require.Len(t, s.datasources, 1)
	ds := s.datasources[0]
	assert.Equal(t, "prometheus", ds.Type)
	assert.Equal(t, "http://prometheus:9090", ds.URL)
	assert.True(t, ds.IsDefault)
	committed, err := filepath.Glob(filepath.Join(s.root, "dashboards", "grafana", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, committed)
	assert.Len(t, s.dashboards, len(committed), "every committed dashboard is provisioned")
	assert.Equal(t, "Canary vs Stable", s.dashboards["canaryflow-canary-comparison"])
}

func TestTheComposeDemoSpecIsAValidRolloutOverTheStack(t *testing.T) {
	s := checked(t)
	assert.Equal(t, filepath.Join(s.root, "examples", "compose.yaml"), s.specPath)
	assert.Equal(t, "shop", s.spec.App)
	assert.Equal(t, "memory", s.spec.Deploy.Kind)
	assert.Equal(t, "local", s.spec.Traffic.Kind)
	assert.Equal(t, "http://router:8090", s.spec.Traffic.Local.AdminURL)
	assert.Equal(t, "prometheus", s.spec.Metrics.Kind)
	assert.NotEmpty(t, s.spec.Steps)
}

// TestTemporalImagesMatchTheServerTheTestsRun keeps the compose stack on the Temporal server
// and UI versions that tools/temporal builds for the tests.
func TestTemporalImagesMatchTheServerTheTestsRun(t *testing.T) {
	s := checked(t)
	gomod, err := os.ReadFile(filepath.Join(s.root, "tools", "temporal", "go.mod"))
	require.NoError(t, err)
	version := func(module string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+v(\S+)`).FindSubmatch(gomod)
		require.NotNil(t, m, "%s in tools/temporal/go.mod", module)
		return string(m[1])
	}
	server, ui := version("go.temporal.io/server"), version("github.com/temporalio/ui-server/v2")
	image := func(name string) string { return s.services[name].Image }
	assert.Equal(t, "temporalio/server:"+server, image("temporal"))
	assert.Equal(t, "temporalio/ui:"+ui, image("temporal-ui"))
	for _, name := range []string{"temporal-schema", "temporal-namespace"} {
		assert.True(t, strings.HasPrefix(image(name), "temporalio/admin-tools:"+server+"-"), "%s: %s", name, image(name))
	}
	assert.Equal(t, types.ServiceConditionCompletedSuccessfully, s.services["temporal"].DependsOn["temporal-schema"].Condition)
	assert.Equal(t, types.ServiceConditionCompletedSuccessfully, s.services["worker"].DependsOn["temporal-namespace"].Condition)
}
