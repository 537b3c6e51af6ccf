package rollout

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const burnQuery = `sum(rate(errors_total{app="{{app}}",namespace="{{ namespace }}",version="{{version}}"}[{{window}}]))`

func customSpec(ms ...CustomMetric) Spec {
	s := validSpec()
	s.Metrics = Metrics{Kind: "prometheus", Prometheus: &PrometheusMetrics{Address: "http://prometheus:9090"}}
	s.Analysis.Metrics = ms
	return s.WithDefaults()
}

func TestCustomMetricsParseFromYAML(t *testing.T) {
	s, err := Parse([]byte(`version: canaryflow/v1
app: shop
namespace: prod
stable: {version: v1}
canary: {version: v2}
deploy: {kind: memory}
traffic: {kind: memory}
metrics: {kind: prometheus, prometheus: {address: "http://prometheus:9090"}}
smoke: {skip: true}
analysis:
  judging: {method: sequential}
  metrics:
    - name: error_budget_burn
      query: 'sum(rate(errors_total{app="{{app}}",version="{{version}}"}[{{window}}]))'
      failureCondition: result >= 2
      critical: true
      maxFailures: 1
    - name: queue-depth
      query: max(queue_depth{namespace="{{namespace}}"})
      successCondition: result < 100
`))
	require.NoError(t, err)
	ms := s.Analysis.Metrics
	require.Len(t, ms, 2)
	assert.Equal(t, "error_budget_burn", ms[0].Name)
	assert.Equal(t, "result >= 2", ms[0].FailureCondition)
	assert.True(t, ms[0].Critical)
	assert.Equal(t, 1, *ms[0].MaxFailures)
	assert.Equal(t, "result < 100", ms[1].SuccessCondition)
}

// Every problem at once, each at its field.
func TestCustomMetricProblemsNameTheField(t *testing.T) {
	one := 1
	s := customSpec(
		CustomMetric{Name: "ok", Query: burnQuery, SuccessCondition: "result < 1"},
		CustomMetric{Name: "ok", Query: "up", FailureCondition: "result > 1"},
		CustomMetric{Name: "Bad Name", Query: "  ", SuccessCondition: "result < x"},
		CustomMetric{Name: "error-rate", Query: `x{app={{app}}}`, FailureCondition: "value > 1", Critical: true, MaxFailures: &one},
		CustomMetric{Query: `x{a="{{pod}}"}`},
		CustomMetric{Name: "long", Query: strings.Repeat("x", MaxCustomQueryLen+1), SuccessCondition: "result < 1"},
	)
	s.Analysis.Judging.Method = MethodThresholds // where critical and maxFailures would be ignored
	err := s.Validate()
	var v *ValidationError
	require.True(t, errors.As(err, &v), "%v", err)
	got := map[string][]string{}
	for _, p := range v.Problems {
		got[p.Path] = append(got[p.Path], p.Msg)
	}
	want := map[string]string{
		"analysis.metrics[1].name":             `"ok" names another metric too`,
		"analysis.metrics[2].name":             `"Bad Name" must be lower-case letters`,
		"analysis.metrics[2].query":            "is required: a PromQL query",
		"analysis.metrics[2].successCondition": `expected a number at byte 9`,
		"analysis.metrics[3].name":             `"error-rate" is a built-in rule's name`,
		"analysis.metrics[3].query":            `{{app}} must stand inside a double-quoted string, like app="{{app}}"`,
		"analysis.metrics[3].failureCondition": `expected "result" at byte 0`,
		"analysis.metrics[3].critical":         "applies only with analysis.judging.method: sequential",
		"analysis.metrics[3].maxFailures":      "applies only with analysis.judging.method: sequential",
		"analysis.metrics[4].name":             "is required",
		"analysis.metrics[4].query":            "unknown placeholder {{pod}}; the known ones are {{app}}, {{namespace}}, {{version}}, {{window}}",
		"analysis.metrics[4]":                  "needs a successCondition or a failureCondition",
		"analysis.metrics[5].query":            "is 1025 bytes long; the maximum is 1024",
	}
	for path, msg := range want {
		require.Contains(t, got, path, "problems: %v", got)
		assert.Contains(t, strings.Join(got[path], " | "), msg, path)
	}
	assert.Len(t, got, len(want), "no other problems: %v", got)

	// Sequential judgement takes critical and maxFailures, within bounds.
	s = customSpec(CustomMetric{Name: "burn", Query: burnQuery, FailureCondition: "result >= 2", Critical: true, MaxFailures: &one})
	s.Analysis.Judging.Method = MethodSequential
	require.NoError(t, s.Validate())
	bad := MaxFailuresLimit + 1
	s.Analysis.Metrics[0].MaxFailures = &bad
	require.ErrorContains(t, s.Validate(), "analysis.metrics[0].maxFailures: must be between 0 and 10, got 11")
}

func TestCustomMetricsNeedPrometheusAndBoundedSize(t *testing.T) {
	s := customSpec(CustomMetric{Name: "a", Query: "up", SuccessCondition: "result == 1"})
	s.Metrics = Metrics{Kind: "memory"}
	require.NoError(t, s.Validate(), "the memory source's scripts supply custom results")
	s.Metrics = Metrics{Kind: "graphite"}
	require.ErrorContains(t, s.Validate(), `analysis.metrics: needs metrics.kind prometheus (the queries are PromQL) or memory (scripted), got "graphite"`)

	many := make([]CustomMetric, MaxCustomMetrics+1)
	for i := range many {
		many[i] = CustomMetric{Name: "m" + string(rune('a'+i)), Query: "up", SuccessCondition: "result == 1"}
	}
	require.ErrorContains(t, customSpec(many...).Validate(), "analysis.metrics: has 9 metrics; the maximum is 8")
	require.NoError(t, customSpec(many[:MaxCustomMetrics]...).Validate())

	q := "sum(up)" + strings.Repeat(" ", 993) // 1000 bytes each
	require.NoError(t, customSpec(CustomMetric{Name: "a", Query: q, SuccessCondition: "result > 0"},
		CustomMetric{Name: "b", Query: q, SuccessCondition: "result > 0"}).Validate())
	require.ErrorContains(t, customSpec(CustomMetric{Name: "a", Query: q, SuccessCondition: "result > 0"},
		CustomMetric{Name: "b", Query: q, SuccessCondition: "result > 0"},
		CustomMetric{Name: "c", Query: "up" + strings.Repeat(" ", 47), SuccessCondition: "result > 0"}).Validate(),
		"analysis.metrics: the queries are 2049 bytes long together; the maximum is 2048")
}

// Placeholders stand only where their value can be made safe: app,
// namespace and version inside double quotes, the window outside strings
// and comments; PromQL's other quotes and comments are read as its lexer
// reads them.
func TestQueryTemplatePlacement(t *testing.T) {
	for _, q := range []string{
		burnQuery,
		`sum(rate(x{app=~"{{app}}|other"}[5m])) # a comment's "quote" ends with its line`,
		`x{a="\"{{app}}\\"} offset {{window}}`,
		`x{a='{"'} or y{app="{{app}}"}`,
		"x{a=`\"`} or y{app=\"{{app}}\"}",
		"# a comment with \"quotes\n" + `x{app="{{app}}"}`,
		`up`,
	} {
		_, err := ParseQueryTemplate(q)
		assert.NoError(t, err, q)
	}
	for q, want := range map[string]string{
		`x{app={{app}}}`:           "at byte 6: {{app}} must stand inside a double-quoted string",
		`x{app='{{app}}'}`:         "{{app}} must stand inside a double-quoted string",
		"x{app=`{{app}}`}":         "{{app}} must stand inside a double-quoted string",
		`x # app="{{app}}"`:        "{{app}} must stand inside a double-quoted string",
		`x{a="\"{{version}}"} # "`: "", // inside the string: fine
		`rate(x["{{window}}"])`:    "{{window}} must stand outside strings and comments",
		"rate(x[5m]) # {{window}}": "{{window}} must stand outside strings and comments",
		`x{a="{{app}"}`:            "opens a placeholder that is not closed",
		`x{a="{{ }}"}`:             "unknown placeholder {{}}",
		`x{a="{{APP}}"}`:           "unknown placeholder {{APP}}",
		`x{a="{{app}}`:             "has a string that is not closed",
		`x{a="\"}`:                 "has a string that is not closed",
		"x{a=\"\xff\"}":            "is not valid UTF-8",
		`x{a="{{app}} {{ version }}"}[{{ window }}] {{ x y }}`: "unknown placeholder {{x y}}",
		`x{a="{{{app}}}"}`: "opens a placeholder that is not closed",
	} {
		_, err := ParseQueryTemplate(q)
		if want == "" {
			assert.NoError(t, err, q)
			continue
		}
		require.Error(t, err, q)
		assert.Contains(t, err.Error(), want, q)
	}
}

func TestQueryTemplateExpand(t *testing.T) {
	tmpl, err := ParseQueryTemplate(burnQuery)
	require.NoError(t, err)
	assert.True(t, tmpl.Uses(PlaceholderVersion))
	assert.False(t, tmpl.Uses("pod"))
	quote := func(v string) string { return strings.ReplaceAll(v, `"`, `\"`) }
	q, err := tmpl.Expand(map[string]string{"app": `sh"op`, "namespace": "prod", "version": "canary", "window": "60s"}, quote)
	require.NoError(t, err)
	assert.Equal(t, `sum(rate(errors_total{app="sh\"op",namespace="prod",version="canary"}[60s]))`, q)

	_, err = tmpl.Expand(map[string]string{"app": "a", "namespace": "b", "version": "canary"}, quote)
	assert.ErrorContains(t, err, "no value for {{window}}")
	_, err = tmpl.Expand(map[string]string{"app": "a", "namespace": "b", "version": "canary", "window": "1m] or vector(1) #"}, quote)
	assert.ErrorContains(t, err, "is not a PromQL duration")
}

func custom(name string, canary, stable float64) CustomResult {
	return CustomResult{Name: name, Values: []CustomValue{
		{Version: "canary", Query: `q{version="canary"}`, Value: Value(canary)},
		{Version: "stable", Query: `q{version="stable"}`, Value: Value(stable)},
	}}
}

// Each condition at, just under and just over its number, alone and with
// the other, on the canary's result.
func TestEvaluateCustomAtAndAroundEachCondition(t *testing.T) {
	const eps = 1e-9
	failOnly := CustomMetric{Name: "burn", FailureCondition: "result >= 2"}
	successOnly := CustomMetric{Name: "burn", SuccessCondition: "result < 2"}
	both := CustomMetric{Name: "burn", SuccessCondition: "result < 1", FailureCondition: "result >= 2"}
	for _, tc := range []struct {
		m     CustomMetric
		v     float64
		want  Verdict
		cause string
	}{
		{failOnly, 2 - eps, Successful, "burn canary 2 < 2 (failureCondition result >= 2 not met), stable 0.3 → Successful"},
		{failOnly, 2, Failed, "burn canary 2 ≥ 2 (failureCondition), stable 0.3 → Failed"},
		{failOnly, 2.4, Failed, "burn canary 2.4 ≥ 2 (failureCondition), stable 0.3 → Failed"},
		{successOnly, 2 - eps, Successful, "burn canary 2 < 2 (successCondition), stable 0.3 → Successful"},
		{successOnly, 2, Failed, "burn canary 2 ≥ 2 (successCondition result < 2 not met), stable 0.3 → Failed"},
		{successOnly, 2 + eps, Failed, "(successCondition result < 2 not met)"},
		{both, 1 - eps, Successful, "(successCondition)"},
		{both, 1, Inconclusive, "burn canary 1: neither successCondition result < 1 nor failureCondition result >= 2 is met, stable 0.3 → Inconclusive"},
		{both, 2 - eps, Inconclusive, "neither"},
		{both, 2, Failed, "(failureCondition)"},
		{both, 2 + eps, Failed, "(failureCondition)"},
	} {
		rs := EvaluateCustom([]CustomMetric{tc.m}, Sample{Custom: []CustomResult{custom("burn", tc.v, 0.3)}})
		require.Len(t, rs, 1)
		r := rs[0]
		assert.Equal(t, tc.want, r.Verdict, "%+v at %g: %s", tc.m, tc.v, r.Reason)
		assert.Contains(t, r.Reason, tc.cause)
		assert.Equal(t, tc.v, float64(r.Estimate))
		assert.Equal(t, "burn", r.Rule)
	}
}

// No data is never a pass nor a failure; a failed query is an Error; a
// metric the source did not measure is undecided.
func TestEvaluateCustomNoDataAndErrors(t *testing.T) {
	m := CustomMetric{Name: "burn", FailureCondition: "result >= 2", Critical: true}
	for _, tc := range []struct {
		name  string
		res   []CustomResult
		want  Verdict
		cause string
	}{
		{"no canary series", []CustomResult{custom("burn", math.NaN(), 0.3)}, Inconclusive, "burn canary no data (no series, or not a finite number), stable 0.3 → Inconclusive"},
		{"infinite", []CustomResult{custom("burn", math.Inf(1), 0.3)}, Inconclusive, "no data"},
		{"query failed", []CustomResult{{Name: "burn", Err: "querying Prometheus: timeout"}}, Error, "burn could not be read: querying Prometheus: timeout → Error"},
		{"not measured", []CustomResult{custom("other", 5, 0)}, Inconclusive, "burn was not measured"},
		{"no canary value", []CustomResult{{Name: "burn", Values: []CustomValue{{Version: "stable", Value: 1}}}}, Inconclusive, "has no canary result"},
	} {
		r := EvaluateCustom([]CustomMetric{m}, Sample{Custom: tc.res})[0]
		assert.Equal(t, tc.want, r.Verdict, tc.name)
		assert.Contains(t, r.Reason, tc.cause, tc.name)
		assert.True(t, r.Critical, tc.name)
	}
	// A query asked once (no {{version}}) is judged as it is.
	r := EvaluateCustom([]CustomMetric{m}, Sample{Custom: []CustomResult{{Name: "burn", Values: []CustomValue{{Query: "q", Value: 3}}}}})[0]
	assert.Equal(t, Failed, r.Verdict)
	assert.Equal(t, "burn 3 ≥ 2 (failureCondition) → Failed", r.Reason)
	// A condition that does not parse (a spec that skipped validation) is an Error.
	r = EvaluateCustom([]CustomMetric{{Name: "burn", FailureCondition: "exec(rm)"}}, Sample{Custom: []CustomResult{custom("burn", 1, 0)}})[0]
	assert.Equal(t, Error, r.Verdict)
	assert.Nil(t, EvaluateCustom(nil, Sample{}))
}

func TestWorst(t *testing.T) {
	order := []Verdict{Successful, Inconclusive, Error, Failed}
	for i, a := range order {
		for j, b := range order {
			assert.Equal(t, order[max(i, j)], Worst(a, b), "%s, %s", a, b)
		}
		assert.Equal(t, a, Worst("", a))
		assert.Equal(t, a, Worst(a, ""))
	}
}

// Thresholds: the worst of the built-in rules and the custom metrics, the
// custom metrics' reasons after the rules'.
func TestEvaluateAnalysisIsTheWorstOfRulesAndMetrics(t *testing.T) {
	a := customSpec(CustomMetric{Name: "burn", Query: burnQuery, FailureCondition: "result >= 2"}).Analysis
	healthy := Sample{
		Canary: VersionFigures{RequestRate: 5, ErrorRate: 0.01, P95: 0.2, P99: 0.3},
		Stable: VersionFigures{RequestRate: 50, ErrorRate: 0.01, P95: 0.2, P99: 0.3},
	}
	s := healthy
	s.Custom = []CustomResult{custom("burn", 0.5, 0.3)}
	v, reasons, rs := EvaluateAnalysis(a, s)
	assert.Equal(t, Successful, v)
	assert.Empty(t, reasons)
	require.Len(t, rs, 1)
	assert.Equal(t, Successful, rs[0].Verdict)

	s.Custom = []CustomResult{custom("burn", 2.4, 0.3)}
	v, reasons, _ = EvaluateAnalysis(a, s)
	assert.Equal(t, Failed, v)
	assert.Equal(t, []string{"burn canary 2.4 ≥ 2 (failureCondition), stable 0.3 → Failed"}, reasons)

	// Too little traffic for the rules, but the metric still fails.
	s.Canary.RequestRate = 0.01
	v, reasons, _ = EvaluateAnalysis(a, s)
	assert.Equal(t, Failed, v)
	assert.Len(t, reasons, 2)

	s = healthy
	s.Custom = []CustomResult{custom("burn", math.NaN(), 0.3)}
	v, _, _ = EvaluateAnalysis(a, s)
	assert.Equal(t, Inconclusive, v, "no data in a metric is never a pass")

	s.Canary.ErrorRate = 0.5
	v, _, _ = EvaluateAnalysis(a, s)
	assert.Equal(t, Failed, v)
}

// examples/custom-metrics.yaml is valid, and its metrics resolve and judge
// as its comments say.
func TestCustomMetricsExample(t *testing.T) {
	data, err := os.ReadFile("../examples/custom-metrics.yaml")
	require.NoError(t, err)
	s, err := Parse(data)
	require.NoError(t, err)
	ms := s.Analysis.Metrics
	require.Len(t, ms, 2)
	assert.Equal(t, MethodSequential, s.Analysis.Judging.Method)

	burn, err := ParseQueryTemplate(ms[0].Query)
	require.NoError(t, err)
	assert.True(t, burn.Uses(PlaceholderVersion), "asked per version")
	q, err := burn.Expand(map[string]string{"app": s.App, "namespace": s.Namespace, "version": "canary", "window": "60s"},
		func(v string) string { return v })
	require.NoError(t, err)
	assert.Contains(t, q, `{app="agence-immobiliere",namespace="production",version="canary",code=~"5.."}[60s]`)
	depth, err := ParseQueryTemplate(ms[1].Query)
	require.NoError(t, err)
	assert.False(t, depth.Uses(PlaceholderVersion), "asked once")

	for _, tc := range []struct {
		burn, depth float64
		want        []Verdict
	}{
		{0.5, 10, []Verdict{Successful, Successful}},
		{1, 500, []Verdict{Inconclusive, Successful}},
		{2, 501, []Verdict{Failed, Failed}},
	} {
		rs := EvaluateCustom(ms, Sample{Custom: []CustomResult{
			custom("error_budget_burn", tc.burn, 0.2),
			{Name: "queue-depth", Values: []CustomValue{{Query: "q", Value: Value(tc.depth)}}},
		}})
		assert.Equal(t, tc.want, []Verdict{rs[0].Verdict, rs[1].Verdict}, "burn %g, depth %g", tc.burn, tc.depth)
		assert.True(t, rs[0].Critical)
	}
}
