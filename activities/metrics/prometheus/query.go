package prometheus

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/canaryflow/canaryflow/rollout"
)

// The figures measured per version, in the order they are reported. Their
// names are the second half of the keys in rollout.Sample.Queries.
const (
	figRequestRate = "requestRate"
	figErrorRate   = "errorRate"
	figP95         = "p95"
	figP99         = "p99"
)

var figures = []string{figRequestRate, figErrorRate, figP95, figP99}

// labelsOwned are matched by the queries themselves; a spec label with one of
// these names would silently turn every figure into nonsense (code="200"
// makes the error rate 0, le="1" empties the quantiles).
var labelsOwned = []string{"version", "code", "le"}

// appLabel names the app on its series. The app chart labels its pods
// app=<spec app> (the Helm deployer sets it) and the usual Kubernetes scrape
// copies pod labels onto every series; the demo's Prometheus labels the same.
const appLabel = "app"

// withApp returns the spec's labels with app=<app> added, unless they name
// the app label themselves or app is empty. A spec on Kubernetes selects its
// namespace, and every app in it made with the chart has version=stable
// pods: without the app, another app's traffic, errors and latency would be
// counted as this app's stable (or canary, in a concurrent rollout). A spec
// can say app: "" to match series without the label, for a Prometheus that
// labels no apps. labels itself is never modified; it belongs to the spec.
func withApp(labels map[string]string, app string) map[string]string {
	if _, named := labels[appLabel]; named || app == "" {
		return labels
	}
	out := make(map[string]string, len(labels)+1)
	maps.Copy(out, labels)
	out[appLabel] = app
	return out
}

// selector is a PromQL label-matcher list without braces, like
// `version="canary",route="/api"`: the version first, then the spec's labels
// sorted by name so the resolved queries are stable across measurements.
type selector string

// newSelector builds the matchers for one version. Label values are quoted
// with strconv.Quote (see quoteValue), which is how Prometheus itself prints them and which
// PromQL's lexer reads back exactly (it accepts Go's escapes), so no value can
// close the string and inject PromQL. Names and the metric are re-checked
// here even though rollout.Validate checks them, because a bad one would be
// pasted into the query as is.
func newSelector(version rollout.Role, labels map[string]string) (selector, error) {
	m, err := specMatchers(labels)
	if err != nil {
		return "", err
	}
	m = append([]string{`version=` + strconv.Quote(string(version))}, m...)
	return selector(strings.Join(m, ",")), nil
}

// specMatchers renders the spec's extra labels as equality matchers.
func specMatchers(labels map[string]string) ([]string, error) {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		if err := checkLabel(name, labels[name]); err != nil {
			return nil, err
		}
		out = append(out, name+"="+quoteValue(labels[name]))
	}
	return out, nil
}

// quoteValue quotes a label value as strconv.Quote does, except that the
// replacement character U+FFFD is escaped too: strconv.Quote leaves it as
// it is (it is printable), and PromQL's lexer refuses it in a string as
// invalid UTF-8, so a spec with one (YAML "\uFFFD", or invalid UTF-8 in a
// JSON start input, which decoding replaces with it) made every query fail.
func quoteValue(v string) string {
	return strings.ReplaceAll(strconv.Quote(v), "\uFFFD", `\ufffd`)
}

func checkLabel(name, value string) error {
	switch {
	case !model.LegacyValidation.IsValidLabelName(name) || strings.HasPrefix(name, "__"):
		return fmt.Errorf("metrics.prometheus.labels: %q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __): %w",
			name, rollout.ErrPermanent)
	case slices.Contains(labelsOwned, name):
		return fmt.Errorf("metrics.prometheus.labels.%s: canaryflow sets this label in its queries (%s are reserved): %w",
			name, strings.Join(labelsOwned, ", "), rollout.ErrPermanent)
	case !utf8.ValidString(value):
		return fmt.Errorf("metrics.prometheus.labels.%s: value is not valid UTF-8: %w", name, rollout.ErrPermanent)
	}
	return nil
}

func checkMetric(metric string) error {
	if !model.LegacyValidation.IsValidMetricName(metric) {
		return fmt.Errorf("metrics.prometheus.metric: %q is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*): %w",
			metric, rollout.ErrPermanent)
	}
	return nil
}

// rangeOf renders the analysis window as a PromQL range: whole seconds (so
// every Prometheus version parses it), at least one.
func rangeOf(window time.Duration) string {
	return fmt.Sprintf("%ds", int64(windowSpan(window)/time.Second))
}

// windowSpan is the span rangeOf(window) covers: window rounded to whole
// seconds, at least one.
func windowSpan(window time.Duration) time.Duration {
	return max(window.Round(time.Second), time.Second)
}

// versionQueries returns one version's queries keyed by figure.
//
// The error rate's numerator falls back to 0: a canary that never failed has
// no code="5xx" series at all, and without the fallback the division would
// have no result and a perfect canary would read as "no data". With zero
// traffic the division is 0/0 = NaN, which analysis calls Inconclusive.
func versionQueries(metric string, sel selector, window time.Duration) map[string]string {
	w := rangeOf(window)
	total := fmt.Sprintf("sum(rate(%s_count{%s}[%s]))", metric, sel, w)
	errors := fmt.Sprintf(`sum(rate(%s_count{%s,code=~"5.."}[%s]))`, metric, sel, w)
	quantile := func(q string) string {
		return fmt.Sprintf("histogram_quantile(%s, sum by (le) (rate(%s_bucket{%s}[%s])))", q, metric, sel, w)
	}
	return map[string]string{
		figRequestRate: total,
		figErrorRate:   fmt.Sprintf("(%s or vector(0)) / %s", errors, total),
		figP95:         quantile("0.95"),
		figP99:         quantile("0.99"),
	}
}

// buildQueries resolves every query of a measurement, keyed like
// "canary.p95" as rollout.Sample.Queries wants.
func buildQueries(p rollout.PrometheusMetrics, window time.Duration) (map[string]string, error) {
	if err := checkMetric(p.Metric); err != nil {
		return nil, err
	}
	out := make(map[string]string, 2*len(figures))
	for _, role := range []rollout.Role{rollout.RoleCanary, rollout.RoleStable} {
		sel, err := newSelector(role, p.Labels)
		if err != nil {
			return nil, err
		}
		for fig, q := range versionQueries(p.Metric, sel, window) {
			out[string(role)+"."+fig] = q
		}
	}
	return out, nil
}

// seriesMatcher is a series selector for Check: the metric's series with
// the spec's labels and, when versioned, a version label analysis can use.
func seriesMatcher(metric string, labels map[string]string, versioned bool) (string, error) {
	m, err := specMatchers(labels)
	if err != nil {
		return "", err
	}
	if versioned {
		m = append([]string{`version=~"stable|canary"`}, m...)
	}
	return fmt.Sprintf("%s{%s}", metric, strings.Join(m, ",")), nil
}
