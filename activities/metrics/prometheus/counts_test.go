package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

func TestBuildCountQueries(t *testing.T) {
	q, err := buildCountQueries(rollout.PrometheusMetrics{
		Metric: "http_request_duration_seconds",
		Labels: map[string]string{"route": "/api/users", "app": "shop"},
	}, "90s")
	require.NoError(t, err)
	c := `version="canary",app="shop",route="/api/users"`
	s := `version="stable",app="shop",route="/api/users"`
	assert.Equal(t, map[string]string{
		"canary.requests": `sum(increase(http_request_duration_seconds_count{` + c + `}[90s]))`,
		"canary.errors":   `sum(increase(http_request_duration_seconds_count{` + c + `,code=~"5.."}[90s])) or vector(0)`,
		"canary.buckets":  `sum by (le) (increase(http_request_duration_seconds_bucket{` + c + `}[90s]))`,
		"stable.requests": `sum(increase(http_request_duration_seconds_count{` + s + `}[90s]))`,
		"stable.errors":   `sum(increase(http_request_duration_seconds_count{` + s + `,code=~"5.."}[90s])) or vector(0)`,
		"stable.buckets":  `sum by (le) (increase(http_request_duration_seconds_bucket{` + s + `}[90s]))`,
	}, q)
}

// The counts use the rate queries' selectors: the same series, the same
// escaping, so a label value cannot close its string in these either.
func TestCountQueriesEscapeLabelValues(t *testing.T) {
	p := rollout.PrometheusMetrics{Metric: "m", Labels: withApp(map[string]string{"route": `"} or vector(1) #`}, `a"pp\`)}
	counts, err := buildCountQueries(p, "60s")
	require.NoError(t, err)
	rates, err := buildQueries(p, time.Minute)
	require.NoError(t, err)
	require.Len(t, counts, 6)
	for key, q := range counts {
		role := strings.Split(key, ".")[0]
		sel := `{version="` + role + `",app="a\"pp\\",route="\"} or vector(1) #"`
		assert.Contains(t, q, sel, key)
		assert.Contains(t, rates[role+".requestRate"], sel, "the rate queries' selector")
		assert.Equal(t, 1, strings.Count(q, "vector(1)"), "%s: the value's text appears once, inside its literal: %s", key, q)
	}

	for name, bad := range map[string]rollout.PrometheusMetrics{
		"bad metric":     {Metric: `m{x="1"}`},
		"reserved label": {Metric: "m", Labels: map[string]string{"le": "1"}},
		"bad label name": {Metric: "m", Labels: map[string]string{"a-b": "1"}},
	} {
		_, err := buildCountQueries(bad, "60s")
		require.ErrorIs(t, err, rollout.ErrPermanent, name)
	}
}

func TestCountsSpan(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		since   time.Time
		minSpan time.Duration
		want    time.Duration
	}{
		"whole seconds kept":             {now.Add(-10 * time.Minute), 15 * time.Second, 10 * time.Minute},
		"a fraction rounds up":           {now.Add(-237400 * time.Millisecond), 15 * time.Second, 238 * time.Second},
		"a nanosecond rounds up":         {now.Add(-time.Minute - time.Nanosecond), 15 * time.Second, 61 * time.Second},
		"shorter than a scrape interval": {now.Add(-3 * time.Second), 15 * time.Second, 15 * time.Second},
		"the interval rounds up too":     {now, 1500 * time.Millisecond, 2 * time.Second},
		"since in the future":            {now.Add(time.Hour), 15 * time.Second, 15 * time.Second},
		"no minimum is one second":       {now, 0, time.Second},
		"capped at a day":                {now.Add(-30 * time.Hour), 15 * time.Second, 24 * time.Hour},
		"zero since is capped":           {time.Time{}, 15 * time.Second, MaxCountsSpan},
		"just under the cap":             {now.Add(-24*time.Hour + time.Second), 15 * time.Second, 24*time.Hour - time.Second},
	} {
		assert.Equal(t, c.want, countsSpan(c.since, now, c.minSpan), name)
	}
}

// fakeProm answers instant queries with answer(query): a JSON vector result
// (the "result" array) or, when it returns an empty string, an execution error.
func fakeProm(t *testing.T, answer func(q string) string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		res := answer(r.Form.Get("query"))
		if res == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprint(w, `{"status":"error","errorType":"execution","error":"failed for the test"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":%s}}`, res)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func one(v string) string { return `[{"metric":{},"value":[1700000000,"` + v + `"]}]` }

func les(pairs ...string) string {
	var out []string
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, `{"metric":{"le":"`+pairs[i]+`"},"value":[1700000000,"`+pairs[i+1]+`"]}`)
	}
	return "[" + strings.Join(out, ",") + "]"
}

func fakeSpec(addr string) rollout.Spec {
	return rollout.Spec{App: "shop", Metrics: rollout.Metrics{Kind: "prometheus", Prometheus: &rollout.PrometheusMetrics{Address: addr}}}
}

func TestBucketsAreParsedSortedAndMerged(t *testing.T) {
	addr := fakeProm(t, func(q string) string {
		switch {
		case strings.Contains(q, "_bucket") && strings.HasPrefix(q, "sum by (le)"):
			// Out of order, +Inf spelled as Prometheus does, one bound spelled
			// two ways, one le that is not a number.
			return les("+Inf", "100", "0.5", "80", "1", "30", "0.1", "40", "1.0", "60", "oops", "7", "2.5e-1", "50")
		case strings.Contains(q, "histogram_quantile"):
			return one("0.4")
		}
		return one("100")
	})
	now := time.Now()
	src := New(addr, WithClock(func() time.Time { return now }))
	c, err := src.MeasureCounts(context.Background(), fakeSpec(""), now.Add(-time.Minute))
	require.NoError(t, err)
	want := []rollout.Bucket{{LE: 0.1, Count: 40}, {LE: 0.25, Count: 50}, {LE: 0.5, Count: 80}, {LE: 1, Count: 90}, {LE: rollout.Value(math.Inf(1)), Count: 100}}
	assert.Equal(t, want, c.Canary.Buckets)
	assert.Equal(t, want, c.Stable.Buckets)
	assert.Equal(t, 100.0, c.Canary.Requests)
	assert.Equal(t, rollout.Duration(time.Minute), c.Span)
}

func TestMeasureFillsTheWindowCounts(t *testing.T) {
	addr := fakeProm(t, func(q string) string {
		canary := strings.Contains(q, `version="canary"`)
		switch {
		case strings.HasPrefix(q, "sum by (le)"):
			if canary {
				return "[]" // no histogram: no buckets, and no failure
			}
			return les("0.5", "450", "+Inf", "600")
		case strings.Contains(q, "increase(") && strings.Contains(q, `code=~"5.."`):
			if canary {
				return one("3")
			}
			return one("6")
		case strings.Contains(q, "increase("):
			if canary {
				return one("60")
			}
			return one("600")
		case strings.Contains(q, "histogram_quantile"):
			return "[]"
		}
		return one("1")
	})
	s, err := New(addr).Measure(context.Background(), fakeSpec(""), 90*time.Second)
	require.NoError(t, err)
	require.NotNil(t, s.Window)
	assert.Equal(t, rollout.Counts{
		Canary: rollout.VersionCounts{Requests: 60, Errors: 3},
		Stable: rollout.VersionCounts{Requests: 600, Errors: 6, Buckets: []rollout.Bucket{{LE: 0.5, Count: 450}, {LE: rollout.Value(math.Inf(1)), Count: 600}}},
		Span:   rollout.Duration(90 * time.Second),
	}, *s.Window)
	assert.Nil(t, s.Cumulative, "Measure leaves the cumulative counts to MeasureCounts")
	assert.Len(t, s.Queries, 14)
	assert.Equal(t, `sum by (le) (increase(http_request_duration_seconds_bucket{version="canary",app="shop"}[90s]))`, s.Queries["canary.buckets"])
}

// A count that cannot be read fails the measurement like a figure does, and
// leaves no Window: zeros there would read as "no requests".
func TestAFailedCountsQueryFailsTheMeasurement(t *testing.T) {
	for name, failing := range map[string]string{
		"buckets":  "sum by (le)",
		"requests": "sum(increase(",
	} {
		t.Run(name, func(t *testing.T) {
			addr := fakeProm(t, func(q string) string {
				switch {
				case strings.HasPrefix(q, failing):
					return ""
				case strings.HasPrefix(q, "sum by (le)"):
					return les("+Inf", "1")
				}
				return one("1")
			})
			s, err := New(addr).Measure(context.Background(), fakeSpec(""), time.Minute)
			require.ErrorIs(t, err, rollout.ErrQueryFailed)
			assert.False(t, errors.Is(err, rollout.ErrNoData))
			assert.Nil(t, s.Window)
			assert.Len(t, s.Queries, 14)

			c, err := New(addr).MeasureCounts(context.Background(), fakeSpec(""), time.Now().Add(-time.Minute))
			require.ErrorIs(t, err, rollout.ErrQueryFailed)
			assert.Nil(t, c)
		})
	}
}

func TestNonFiniteCountsAreQueryFailures(t *testing.T) {
	for name, answer := range map[string]func(q string) string{
		"requests": func(q string) string {
			if strings.HasPrefix(q, "sum(increase(") && !strings.Contains(q, "5..") {
				return one("NaN")
			}
			if strings.HasPrefix(q, "sum by (le)") {
				return les("+Inf", "1")
			}
			return one("1")
		},
		"bucket": func(q string) string {
			if strings.HasPrefix(q, "sum by (le)") {
				return les("+Inf", "+Inf")
			}
			return one("1")
		},
	} {
		_, err := New(fakeProm(t, answer)).MeasureCounts(context.Background(), fakeSpec(""), time.Now().Add(-time.Minute))
		require.ErrorIs(t, err, rollout.ErrQueryFailed, name)
	}
}
