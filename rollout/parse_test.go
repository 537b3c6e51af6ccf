package rollout

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimalYAML is a valid spec; tests append or replace parts of it.
const minimalYAML = `version: canaryflow/v1
app: shop
namespace: sandbox
stable: {version: v1}
canary: {version: v2}
deploy: {kind: memory}
traffic: {kind: memory}
metrics: {kind: memory}
smoke: {skip: true}
`

func parseProblems(t *testing.T, yaml string) map[string]string {
	t.Helper()
	_, err := Parse([]byte(yaml))
	var v *ValidationError
	require.True(t, errors.As(err, &v), "want a ValidationError, got %v", err)
	out := map[string]string{}
	for _, p := range v.Problems {
		out[p.Path] = p.Msg
	}
	return out
}

func TestMinimalYAMLGetsTheDefaultPlan(t *testing.T) {
	s, err := Parse([]byte(minimalYAML))
	require.NoError(t, err)
	assert.Equal(t, DefaultSteps(), s.Steps, "absent steps still get the default plan")
}

func TestSeveralYAMLDocumentsAreRefused(t *testing.T) {
	_, err := Parse([]byte(minimalYAML + "---\n" + strings.Replace(minimalYAML, "app: shop", "app: other", 1)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than one YAML document")
	assert.Contains(t, err.Error(), "--- at line 10")

	// Separators that hold nothing are not a second rollout.
	for _, ok := range []string{"---\n" + minimalYAML, minimalYAML + "---\n", minimalYAML + "...\n"} {
		_, err := Parse([]byte(ok))
		assert.NoError(t, err, ok)
	}
}

func TestKeysInAnotherCaseAreRefused(t *testing.T) {
	for yaml, want := range map[string]map[string]string{
		minimalYAML + "steps:\n  - SetWeight: 10\n":                  {"steps[0].SetWeight": `keys are case-sensitive: write "steps[0].setWeight"`},
		minimalYAML + "steps:\n  - setweight: 10\n":                  {"steps[0].setweight": `keys are case-sensitive: write "steps[0].setWeight"`},
		minimalYAML + "steps:\n  - {setWeight: 10, SetWeight: 90}\n": {"steps[0].SetWeight": `keys are case-sensitive: write "steps[0].setWeight"`},
		strings.Replace(minimalYAML, "app: shop", "App: shop", 1):    {"App": `keys are case-sensitive: write "app"`},
		strings.Replace(minimalYAML, "metrics: {kind: memory}", "metrics: {kind: prometheus, prometheus: {Address: 'http://p:9090'}}", 1): {
			"metrics.prometheus.Address": `keys are case-sensitive: write "metrics.prometheus.address"`},
		minimalYAML + "analysis: {thresholds: {MaxErrorRate: 0.9}}\n": {"analysis.thresholds.MaxErrorRate": `keys are case-sensitive: write "analysis.thresholds.maxErrorRate"`},
	} {
		got := parseProblems(t, yaml)
		for path, msg := range want {
			assert.Equal(t, msg, got[path], "in:\n%s", yaml)
		}
	}
	// Label names are the user's, in any case.
	_, err := Parse([]byte(strings.Replace(minimalYAML, "metrics: {kind: memory}",
		"metrics: {kind: prometheus, prometheus: {labels: {App: shop, app: shop}}}", 1)))
	assert.NoError(t, err)
}

func TestKeysSetToNothingAreNotSilentlyDefaulted(t *testing.T) {
	for yaml, path := range map[string]string{
		minimalYAML + "steps: []\n":                                                                         "steps",
		minimalYAML + "steps:\n":                                                                            "steps",
		minimalYAML + "analysis: {thresholds: {maxP95: 0s}}\n":                                              "analysis.thresholds.maxP95",
		minimalYAML + "analysis: {thresholds: {maxErrorRate: null}}\n":                                      "analysis.thresholds.maxErrorRate",
		minimalYAML + "analysis: {window: 0s}\n":                                                            "analysis.window",
		minimalYAML + "steps: [{setWeight: 10}, {analysis: {measurements: 0}}]\n":                           "steps[1].analysis.measurements",
		strings.Replace(minimalYAML, "traffic: {kind: memory}", "traffic: {kind: memory, header: ''}", 1):   "traffic.header",
		strings.Replace(minimalYAML, "smoke: {skip: true}", "smoke: {baseURL: 'http://x', requests: 0}", 1): "smoke.requests",
	} {
		got := parseProblems(t, yaml)
		assert.Contains(t, got, path, "in:\n%s\ngot %v", yaml, got)
	}
	got := parseProblems(t, minimalYAML+"steps: []\n")
	assert.Contains(t, got["steps"], "is empty")
	got = parseProblems(t, minimalYAML+"analysis: {thresholds: {maxP95: 0s}}\n")
	assert.Contains(t, got["analysis.thresholds.maxP95"], "would silently become the default 2s")

	got = parseProblems(t, strings.Replace(minimalYAML, "smoke: {skip: true}", "smoke: {baseURL: 'http://x', endpoints: []}", 1))
	assert.Contains(t, got["smoke.endpoints"], "is empty")
	// Explicit values that are not defaults are kept: a zero-length pause is an approval wait.
	s, err := Parse([]byte(minimalYAML + "steps: [{setWeight: 10}, {pause: {duration: 0s}}]\n"))
	require.NoError(t, err)
	assert.Equal(t, "pause until approved", s.Steps[1].Describe())
}

func TestAHugePlanIsRefusedAtParse(t *testing.T) {
	yaml := minimalYAML + "steps:\n" + strings.Repeat("  - setWeight: 10\n", 3000)
	got := parseProblems(t, yaml)
	assert.Equal(t, "has 3000 steps; the maximum is 100", got["steps"])

	_, err := Parse([]byte(minimalYAML + "# " + strings.Repeat("x", MaxSpecBytes) + "\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the maximum is 65536")
}
