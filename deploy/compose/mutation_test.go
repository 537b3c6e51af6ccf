package compose

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// mutation is a hostile edit of docker-compose.yml (and, through mounts pointed at temporary
// files, of what it mounts) that the checks must refuse, naming the field.
type mutation struct {
	name string
	edit func(t *testing.T, doc map[string]any)
	want []string // every one must be in the error
}

// service returns services.<name> of a decoded compose document.
func service(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	svc, ok := doc["services"].(map[string]any)[name].(map[string]any)
	require.True(t, ok, "services.%s", name)
	return svc
}

// list returns the list at key of m.
func list(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	l, ok := m[key].([]any)
	require.True(t, ok, "%s is a list", key)
	return l
}

// replaceArg replaces the argument old in services.<name>.command.
func replaceArg(t *testing.T, doc map[string]any, name, old, repl string) {
	t.Helper()
	cmd := list(t, service(t, doc, name), "command")
	i := slices.Index(cmd, any(old))
	require.GreaterOrEqual(t, i, 0, "%s in services.%s.command", old, name)
	cmd[i] = repl
}

// mountTemp writes content to a temporary file and mounts it read-only at target in
// services.<name>, replacing the volume at index i.
func mountTemp(t *testing.T, doc map[string]any, name string, i int, file, content, target string) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, file)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	src := p
	if target == "/specs" {
		src = dir
	}
	list(t, service(t, doc, name), "volumes")[i] = src + ":" + target + ":ro"
}

// readRepo returns a repository file's text.
func readRepo(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	require.NoError(t, err)
	return string(b)
}

// tempDockerfile writes a Dockerfile and points services.<name>.build.dockerfile at it.
func tempDockerfile(t *testing.T, doc map[string]any, name, content string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "Dockerfile")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	service(t, doc, name)["build"].(map[string]any)["dockerfile"] = p
}

var mutations = []mutation{
	{"build context missing", func(t *testing.T, doc map[string]any) {
		service(t, doc, "worker")["build"].(map[string]any)["context"] = "./no-such-directory"
	}, []string{"services.worker.build.context: ", "no-such-directory is not a directory"}},
	{"depends_on an unknown service", func(t *testing.T, doc map[string]any) {
		service(t, doc, "worker")["depends_on"].(map[string]any)["ghost"] = map[string]any{"condition": "service_healthy"}
	}, []string{"services.worker.depends_on.ghost: no such service"}},
	{"duplicate published port", func(t *testing.T, doc map[string]any) {
		g := service(t, doc, "grafana")
		g["ports"] = append(list(t, g, "ports"), "127.0.0.1:9090:3000")
	}, []string{"services.prometheus.ports[0]: published port 9090/tcp is also published by services.grafana.ports[1]"}},
	{"published port taken on every address", func(t *testing.T, doc map[string]any) {
		list(t, service(t, doc, "stable"), "ports")[0] = "0.0.0.0:8080:8081"
	}, []string{"services.stable.ports[0]: published port 8080/tcp is also published by services.router.ports[0]"}},
	{"service_healthy on a service without healthcheck", func(t *testing.T, doc map[string]any) {
		delete(service(t, doc, "router"), "healthcheck")
	}, []string{
		"services.load.depends_on.router: condition service_healthy, but services.router has no healthcheck",
		"services.router.healthcheck: missing",
	}},
	{"healthcheck probes a port the service does not listen on", func(t *testing.T, doc map[string]any) {
		service(t, doc, "stable")["healthcheck"].(map[string]any)["test"] =
			[]any{"CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8090/health"}
	}, []string{"services.stable.healthcheck: probes port 8090, but the command listens on [8081]"}},
	{"build target not in the Dockerfile", func(t *testing.T, doc map[string]any) {
		service(t, doc, "router")["build"].(map[string]any)["target"] = "nope"
	}, []string{`services.router.build.target: no stage "nope" in`}},
	{"bind-mounted file missing", func(t *testing.T, doc map[string]any) {
		list(t, service(t, doc, "prometheus"), "volumes")[0] = "./deploy/compose/prometheus/missing.yml:/etc/prometheus/prometheus.yml:ro"
	}, []string{"services.prometheus.volumes[0]: bind source", "missing.yml does not exist"}},
	{"configuration mounted writable", func(t *testing.T, doc map[string]any) {
		list(t, service(t, doc, "grafana"), "volumes")[2] = "./dashboards/grafana:/etc/grafana/dashboards/canaryflow"
	}, []string{"services.grafana.volumes[2]: bind mount of", "is writable"}},
	{"dashboards not mounted", func(t *testing.T, doc map[string]any) {
		g := service(t, doc, "grafana")
		g["volumes"] = slices.Delete(list(t, g, "volumes"), 2, 3)
	}, []string{"providers[0].options.path: /etc/grafana/dashboards/canaryflow is not on a bind mount", "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"}},
	{"one-shot that restarts for ever", func(t *testing.T, doc map[string]any) {
		service(t, doc, "temporal-schema")["restart"] = "always"
	}, []string{`services.temporal.depends_on.temporal-schema: condition service_completed_successfully, but services.temporal-schema restarts "always"`}},
	{"image not pinned", func(t *testing.T, doc map[string]any) {
		service(t, doc, "prometheus")["image"] = "prom/prometheus:latest"
	}, []string{`services.prometheus.image: "prom/prometheus:latest" is not pinned`}},
	{"worker scrape interval differs from Prometheus's", func(t *testing.T, doc map[string]any) {
		replaceArg(t, doc, "worker", "--scrape-interval=5s", "--scrape-interval=15s")
	}, []string{"services.worker.command: --scrape-interval=15s, but Prometheus scrapes job demo every 5s"}},
	{"worker without the memory deployer the spec needs", func(t *testing.T, doc map[string]any) {
		replaceArg(t, doc, "worker", "--dry-run-providers", "--no-kube")
	}, []string{"deploy.kind: memory, but services.worker runs without --dry-run-providers"}},
	{"search attribute missing", func(t *testing.T, doc map[string]any) {
		env := service(t, doc, "temporal-namespace")["environment"].(map[string]any)
		env["SEARCH_ATTRIBUTES"] = strings.Replace(env["SEARCH_ATTRIBUTES"].(string), "CanaryWeight=Int", "CanaryWeight=Keyword", 1)
	}, []string{`services.temporal-namespace.environment.SEARCH_ATTRIBUTES: want CanaryWeight=Int (rollout.SearchAttrTypes), got "Keyword"`}},
	{"Prometheus scrapes an unknown service", func(t *testing.T, doc map[string]any) {
		cfg := readRepo(t, "deploy/compose/prometheus/prometheus.yml") + "\n  - job_name: ghost\n    static_configs:\n      - targets: [ghost:9100]\n"
		mountTemp(t, doc, "prometheus", 0, "prometheus.yml", cfg, "/etc/prometheus/prometheus.yml")
	}, []string{`scrape_configs[job=ghost].static_configs: target ghost:9100: no compose service "ghost"`}},
	{"Prometheus scrapes a port the service does not expose", func(t *testing.T, doc map[string]any) {
		cfg := strings.Replace(readRepo(t, "deploy/compose/prometheus/prometheus.yml"), "canary:8081", "canary:9999", 1)
		mountTemp(t, doc, "prometheus", 0, "prometheus.yml", cfg, "/etc/prometheus/prometheus.yml")
	}, []string{"scrape_configs[job=demo].static_configs: target canary:9999: services.canary does not expose port 9999"}},
	{"Prometheus configuration Prometheus refuses", func(t *testing.T, doc map[string]any) {
		cfg := strings.Replace(readRepo(t, "deploy/compose/prometheus/prometheus.yml"), "scrape_interval: 5s", "scrape_interval: fast", 1)
		mountTemp(t, doc, "prometheus", 0, "prometheus.yml", cfg, "/etc/prometheus/prometheus.yml")
	}, []string{"Prometheus refuses it", `"fast"`}},
	{"final stage runs as root", func(t *testing.T, doc map[string]any) {
		tempDockerfile(t, doc, "router", "FROM golang:1.26-alpine AS build\nRUN go version\n\nFROM alpine:3.22 AS router\nCOPY --from=build /usr/local/go/bin/go /go\n")
	}, []string{`services.router.build.target: stage "router" of`, `runs as root (USER "")`, "services.router.build.dockerfile: the last stage of"}},
	{"USER 0 is root too", func(t *testing.T, doc map[string]any) {
		tempDockerfile(t, doc, "router", "FROM golang:1.26-alpine AS build\nFROM alpine:3.22 AS router\nUSER 0:65532\n")
	}, []string{`services.router.build.target: stage "router" of`, `runs as root (USER "0:65532")`}},
	{"single-stage Dockerfile", func(t *testing.T, doc map[string]any) {
		tempDockerfile(t, doc, "router", "FROM alpine:3.22 AS router\nUSER 65532\n")
	}, []string{"services.router.build.dockerfile: ", "has one stage"}},
	{"Dockerfile base image not pinned", func(t *testing.T, doc map[string]any) {
		tempDockerfile(t, doc, "router", "FROM golang AS build\nFROM alpine:3.22 AS router\nUSER 65532\n")
	}, []string{`base image "golang" is not pinned`}},
	{"demo spec aims at an unknown service", func(t *testing.T, doc map[string]any) {
		spec := strings.Replace(readRepo(t, "examples/compose.yaml"), "http://router:8090", "http://ghost:8090", 1)
		mountTemp(t, doc, "starter", 0, "compose.yaml", spec, "/specs")
	}, []string{`compose.yaml: traffic.local.adminURL: ghost:8090: no compose service "ghost"`}},
	{"demo spec the starter refuses", func(t *testing.T, doc map[string]any) {
		spec := strings.Replace(readRepo(t, "examples/compose.yaml"), "setWeight: 10", "setWeigth: 10", 1)
		mountTemp(t, doc, "starter", 0, "compose.yaml", spec, "/specs")
	}, []string{"compose.yaml: the starter refuses the spec", "setWeigth"}},
	{"demo spec's job carries another app label", func(t *testing.T, doc map[string]any) {
		spec := strings.Replace(readRepo(t, "examples/compose.yaml"), "app: shop", "app: store", 1)
		mountTemp(t, doc, "starter", 0, "compose.yaml", spec, "/specs")
	}, []string{`metrics.prometheus.labels: queries match app="store", but job demo's targets`}},
}

func TestMutatedComposeFilesAreRefusedNamingTheField(t *testing.T) {
	root, b := readCompose(t)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			require.NotEmpty(t, m.want)
			var doc map[string]any
			require.NoError(t, yaml.Unmarshal(b, &doc))
			m.edit(t, doc)
			out, err := yaml.Marshal(doc)
			require.NoError(t, err)
			_, err = checkStack(context.Background(), root, out)
			require.Error(t, err, "the mutation is refused")
			t.Log(err)
			for _, w := range m.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestUnmutatedRoundTripPasses shows the mutation harness itself (decode, encode, load from
// content) leaves a passing file passing, so each refusal above is the mutation's doing.
func TestUnmutatedRoundTripPasses(t *testing.T) {
	root, b := readCompose(t)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(b, &doc))
	out, err := yaml.Marshal(doc)
	require.NoError(t, err)
	_, err = checkStack(context.Background(), root, out)
	require.NoError(t, err)
}
