package rollout

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// fuzzFullYAML sets most of what a spec can hold, so mutations of it reach
// the validation of every section rather than stopping at a missing field.
const fuzzFullYAML = `version: canaryflow/v1
app: agence-immobiliere
namespace: production
stable: {version: v1.4.0, image: "registry.example/agence:1.4.0"}
canary: {version: v1.5.0, image: "registry.example/agence:1.5.0"}
deploy:
  kind: helm
  readyTimeout: 5m
  helm:
    chart: oci://registry.example/charts/app
    release: agence
    values: {ingress: {host: agence.example}, replicas: 2, ratio: 0.5, flags: [a, b]}
traffic: {kind: nginx, header: X-Canary, cookie: canary}
metrics:
  kind: prometheus
  prometheus:
    address: http://prometheus.monitoring:9090
    metric: http_request_duration_seconds
    labels: {route: /api/properties, team: "a\"b\\c"}
smoke:
  baseURL: http://agence.production.svc
  healthPath: /health
  endpoints: [/api/properties, /api/users, /metrics]
  requests: 20
  maxErrorRate: 0.05
  maxLatencyRatio: 2
  maxMemoryMB: 512
steps:
  - setWeight: 10
  - pause: {duration: 15m}
  - analysis: {measurements: 3}
  - setWeight: 25
  - pause: {timeout: 1h, onTimeout: abort}
  - setWeight: 50
  - pause: {duration: 15m}
analysis:
  interval: 1m
  window: 5m
  thresholds: {maxErrorRate: 0.05, maxP95: 2s, maxErrorRateIncrease: 0.03, maxLatencyRatio: 1.5, minRequestRate: 0.1}
  limits: {maxFailures: 0, maxInconclusive: 3, maxConsecutiveErrors: 4}
notify: {kind: slack, channel: "#deploys"}
`

// FuzzParse feeds arbitrary bytes to Parse. Whatever the input, Parse must
// not panic, and a spec it accepts must be one the rest of the system can
// trust: it validates again as it is (the workflow re-validates the spec it
// is started with), its workflow ID names exactly its namespace and app,
// and it survives the trips it takes — YAML out and back in (a spec printed
// by the starter and submitted again) and JSON (the workflow's input) —
// without changing.
func FuzzParse(f *testing.F) {
	seeds := []string{
		minimalYAML,
		fuzzFullYAML,
		"",
		"---\n",
		"null",
		"[]",
		"{}",
		"version: canaryflow/v1\n",
		// Another document, keys in another case, unknown keys, keys set to nothing.
		minimalYAML + "---\n" + minimalYAML,
		strings.Replace(minimalYAML, "app: shop", "App: shop", 1),
		minimalYAML + "steps:\n  - setWeigth: 10\n",
		minimalYAML + "steps: []\n",
		minimalYAML + "analysis: {thresholds: {maxP95: 0s}}\n",
		// Duplicate keys, anchors, merge keys, tags.
		minimalYAML + "app: other\n",
		"base: &b {kind: memory}\n" + strings.Replace(minimalYAML, "deploy: {kind: memory}", "deploy: *b", 1),
		strings.Replace(minimalYAML, "deploy: {kind: memory}", "deploy: {<<: {kind: memory}}", 1),
		strings.Replace(minimalYAML, "app: shop", "app: !!binary c2hvcA==", 1),
		"a: &a [*a]\n",
		"a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nd: [*c, *c, *c, *c]\n",
		// Names that an escaping bug would let collide or smuggle.
		strings.Replace(minimalYAML, "app: shop", "app: a.b", 1),
		strings.Replace(minimalYAML, "app: shop", "app: a_2eb", 1),
		strings.Replace(minimalYAML, "namespace: sandbox", `namespace: "team\u0000a"`, 1),
		strings.Replace(minimalYAML, "app: shop", "app: ёлка", 1),
		strings.Replace(minimalYAML, "app: shop", "app: "+strings.Repeat("a", 64), 1),
		// NaN-ish and out-of-range numbers.
		minimalYAML + "analysis: {thresholds: {maxErrorRate: .nan}}\n",
		minimalYAML + "analysis: {thresholds: {maxErrorRate: .inf, maxLatencyRatio: -.inf}}\n",
		minimalYAML + "analysis: {thresholds: {maxErrorRate: 1e309, minRequestRate: -0.0}}\n",
		minimalYAML + "steps:\n  - setWeight: 1e2\n",
		minimalYAML + "steps:\n  - setWeight: 10.5\n",
		minimalYAML + "steps:\n  - setWeight: 0x7fffffffffffffff\n",
		minimalYAML + "steps:\n  - setWeight: 99999999999999999999\n",
		minimalYAML + "steps:\n  - pause: {duration: 9223372036854775807ns}\n",
		minimalYAML + "steps:\n  - pause: {duration: -1s}\n",
		minimalYAML + "analysis: {interval: 1e3s, window: 0.5s}\n",
		minimalYAML + "analysis: {limits: {maxFailures: -1}}\n",
		strings.Replace(minimalYAML, "smoke: {skip: true}", "smoke: {baseURL: 'http://x', requests: 1e9, maxMemoryMB: .nan}", 1),
		// Hostile Prometheus labels and URLs.
		strings.Replace(minimalYAML, "metrics: {kind: memory}",
			`metrics: {kind: prometheus, prometheus: {metric: "x{a=\"b\"}", labels: {route: "\"} or vector(1) #"}}}`, 1),
		strings.Replace(minimalYAML, "metrics: {kind: memory}",
			`metrics: {kind: prometheus, prometheus: {labels: {route: "\uFFFD\n\\", le: "1", code: "200", version: x}}}`, 1),
		strings.Replace(minimalYAML, "metrics: {kind: memory}",
			"metrics: {kind: prometheus, prometheus: {address: 'http://user:pw@p:9090/?token=x#f'}}", 1),
		// Invalid UTF-8 and a byte-order mark.
		strings.Replace(minimalYAML, "app: shop", "app: sh\xffop", 1),
		"\ufeff" + minimalYAML,
		// Oversized: one byte over the limit, and a long value under it.
		minimalYAML + "# " + strings.Repeat("x", MaxSpecBytes-len(minimalYAML)-2) + "\n",
		strings.Replace(minimalYAML, "stable: {version: v1}", "stable: {version: v"+strings.Repeat("1", 4000)+"}", 1),
	}
	if b, err := os.ReadFile("testdata/invalid.yaml"); err == nil {
		seeds = append(seeds, string(b))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			assert.Equal(t, Spec{}, s, "a refused spec comes with the zero Spec")
			var v *ValidationError
			if errors.As(err, &v) {
				assert.NotEmpty(t, v.Problems, "a validation error names its problems")
				assert.LessOrEqual(t, len(v.Problems), MaxProblems)
			}
			return
		}
		require.NoError(t, s.Validate(), "an accepted spec validates again")
		checkWorkflowID(t, s)

		// YAML out and back in: accepted again, and a fixed point.
		out, err := yaml.Marshal(s)
		require.NoError(t, err, "an accepted spec marshals")
		again, err := Parse(out)
		require.NoError(t, err, "an accepted spec, marshalled, is accepted again:\n%s", out)
		out2, err := yaml.Marshal(again)
		require.NoError(t, err)
		require.Equal(t, string(out), string(out2), "parsing a marshalled spec changes nothing")

		// JSON, as the workflow's input: the decoded spec is the same and valid.
		js, err := json.Marshal(s)
		require.NoError(t, err, "an accepted spec encodes as the workflow's JSON input")
		var fromJSON Spec
		require.NoError(t, json.Unmarshal(js, &fromJSON))
		require.NoError(t, fromJSON.Validate(), "the workflow's copy of the spec validates")
		js2, err := json.Marshal(fromJSON)
		require.NoError(t, err)
		require.JSONEq(t, string(js), string(js2), "the spec survives its JSON trip")
	})
}

// checkWorkflowID checks that s's workflow ID reads back as exactly its
// namespace and app (splitWorkflowID, in identity_test.go, inverts the
// escaping), and that a valid spec's names need no escaping at all.
func checkWorkflowID(t *testing.T, s Spec) {
	t.Helper()
	id := WorkflowID(s.Namespace, s.App)
	ns, app := splitWorkflowID(t, id)
	require.Equal(t, s.Namespace, ns, "namespace read back from %q", id)
	require.Equal(t, s.App, app, "app read back from %q", id)
	require.Equal(t, "canary-"+s.Namespace+"."+s.App, id, "valid names are used as they are")
}
