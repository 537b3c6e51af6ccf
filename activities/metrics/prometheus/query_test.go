package prometheus

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

func TestBuildQueries(t *testing.T) {
	q, err := buildQueries(rollout.PrometheusMetrics{
		Metric: "http_request_duration_seconds",
		Labels: map[string]string{"route": "/api/users", "app": "shop"},
	}, 90*time.Second)
	require.NoError(t, err)
	sel := `version="canary",app="shop",route="/api/users"`
	assert.Equal(t, map[string]string{
		"canary.requestRate": `sum(rate(http_request_duration_seconds_count{` + sel + `}[90s]))`,
		"canary.errorRate": `(sum(rate(http_request_duration_seconds_count{` + sel + `,code=~"5.."}[90s])) or vector(0)) / ` +
			`sum(rate(http_request_duration_seconds_count{` + sel + `}[90s]))`,
		"canary.p95":         `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{` + sel + `}[90s])))`,
		"canary.p99":         `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{` + sel + `}[90s])))`,
		"stable.requestRate": `sum(rate(http_request_duration_seconds_count{version="stable",app="shop",route="/api/users"}[90s]))`,
		"stable.errorRate": `(sum(rate(http_request_duration_seconds_count{version="stable",app="shop",route="/api/users",code=~"5.."}[90s])) or vector(0)) / ` +
			`sum(rate(http_request_duration_seconds_count{version="stable",app="shop",route="/api/users"}[90s]))`,
		"stable.p95": `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{version="stable",app="shop",route="/api/users"}[90s])))`,
		"stable.p99": `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{version="stable",app="shop",route="/api/users"}[90s])))`,
	}, q)
}

func TestRangeIsWholeSecondsAtLeastOne(t *testing.T) {
	for in, want := range map[time.Duration]string{
		0:                       "1s",
		200 * time.Millisecond:  "1s",
		1499 * time.Millisecond: "1s",
		1500 * time.Millisecond: "2s",
		time.Minute:             "60s",
		15 * time.Minute:        "900s",
	} {
		assert.Equal(t, want, rangeOf(in), "window %s", in)
	}
}

func TestLabelValuesCannotInjectPromQL(t *testing.T) {
	for _, v := range []string{`"} or vector(1) #`, `a\"b`, "line\nbreak", `\`, "x`y", `'`} {
		sel, err := newSelector(rollout.RoleCanary, map[string]string{"route": v})
		require.NoError(t, err)
		s := string(sel)
		// The value is one double-quoted string literal: after the opening
		// quote, the first unescaped quote is the last character.
		lit := strings.TrimPrefix(s, `version="canary",route=`)
		require.True(t, strings.HasPrefix(lit, `"`), s)
		assert.Equal(t, len(lit)-1, closingQuote(lit), "value %q escaped as %s", v, lit)
		assert.NotContains(t, s, "\n")
	}
	sel, err := newSelector(rollout.RoleStable, map[string]string{"route": `"} or vector(1) #`})
	require.NoError(t, err)
	assert.Equal(t, `version="stable",route="\"} or vector(1) #"`, string(sel))
}

// closingQuote returns the index of the quote ending the literal starting at 0.
func closingQuote(lit string) int {
	for i := 1; i < len(lit); i++ {
		switch lit[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func TestBadNamesAreRejected(t *testing.T) {
	cases := map[string]rollout.PrometheusMetrics{
		"metric with brace":   {Metric: `up{x="1"}`},
		"metric with space":   {Metric: "a b"},
		"empty metric":        {Metric: ""},
		"label with brace":    {Metric: "m", Labels: map[string]string{`a="1"}`: "x"}},
		"reserved __ label":   {Metric: "m", Labels: map[string]string{"__name__": "x"}},
		"version overridden":  {Metric: "m", Labels: map[string]string{"version": "canary"}},
		"code would break":    {Metric: "m", Labels: map[string]string{"code": "200"}},
		"le would break":      {Metric: "m", Labels: map[string]string{"le": "1"}},
		"invalid utf-8 value": {Metric: "m", Labels: map[string]string{"a": "\xff"}},
	}
	for name, p := range cases {
		_, err := buildQueries(p, time.Minute)
		require.Error(t, err, name)
		assert.True(t, errors.Is(err, rollout.ErrPermanent), "%s: %v", name, err)
	}
}

func TestSeriesMatcher(t *testing.T) {
	m, err := seriesMatcher("m_count", map[string]string{"b": "2", "a": `"`}, true)
	require.NoError(t, err)
	assert.Equal(t, `m_count{version=~"stable|canary",a="\"",b="2"}`, m)
	m, err = seriesMatcher("m_count", nil, false)
	require.NoError(t, err)
	assert.Equal(t, `m_count{}`, m)
}

func TestServerTimeoutIsWholeSeconds(t *testing.T) {
	assert.Equal(t, time.Second, serverTimeout(100*time.Millisecond))
	assert.Equal(t, 2*time.Second, serverTimeout(1500*time.Millisecond))
	assert.Equal(t, 10*time.Second, serverTimeout(10*time.Second))
}

func BenchmarkBuildQueries(b *testing.B) {
	p := rollout.PrometheusMetrics{Metric: rollout.DefaultMetric, Labels: map[string]string{"job": "demo", "namespace": "production"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildQueries(p, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWithAppAddsTheSpecsApp(t *testing.T) {
	spec := map[string]string{"namespace": "prod"}
	assert.Equal(t, map[string]string{"namespace": "prod", "app": "shop"}, withApp(spec, "shop"))
	assert.Equal(t, map[string]string{"namespace": "prod"}, spec, "the spec's map is not modified")
	assert.Equal(t, map[string]string{"app": "shop"}, withApp(nil, "shop"))
	// The spec's own app label wins, even empty (series without the label).
	assert.Equal(t, map[string]string{"app": "web"}, withApp(map[string]string{"app": "web"}, "shop"))
	assert.Equal(t, map[string]string{"app": ""}, withApp(map[string]string{"app": ""}, "shop"))
	// No app, nothing to add (a spec that skipped validation).
	assert.Nil(t, withApp(nil, ""))

	sel, err := seriesMatcher("m_count", withApp(map[string]string{"app": ""}, "shop"), true)
	require.NoError(t, err)
	assert.Equal(t, `m_count{version=~"stable|canary",app=""}`, sel)
}
