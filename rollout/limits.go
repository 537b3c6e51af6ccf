package rollout

import "time"

// Upper (and some lower) limits a spec must stay within, refused by Validate
// with the field and the limit named. Each one keeps a rollout's history,
// queries and reports bounded, or keeps analysis able to fail a bad canary:
// a threshold past its limit would switch a rule off without saying so.
const (
	// MaxSpecBytes bounds a YAML spec. The spec travels in the workflow's
	// input; a hundred steps with every option set is well under 16 KiB.
	MaxSpecBytes = 64 << 10
	// MaxProblems bounds how many problems a ValidationError lists, so the
	// error a workflow fails with stays small whatever was submitted.
	MaxProblems = 50

	// MaxSteps bounds the plan. Every step costs history events (an
	// activity or a timer and its completion) on top of the measurements
	// taken while it runs; a 3,000-step plan reached Temporal's history
	// limit and was terminated with no rollback. The reference plan has 7
	// steps; 100 leaves room for any real plan.
	MaxSteps = 100
	// MaxGateMeasurements bounds an analysis step's run of successes: each
	// is one analysis interval of waiting.
	MaxGateMeasurements = 100
	// MaxPause bounds a timed hold and an approval wait's timeout. Past a
	// week the canary's baseline has drifted and the rollout is forgotten
	// rather than watched; a 10-year hold is a typo.
	MaxPause = 7 * 24 * time.Hour
	// MaxReadyTimeout bounds how long a deployment may take to be ready.
	MaxReadyTimeout = 2 * time.Hour
	// MinAnalysisInterval and MaxAnalysisInterval bound how often analysis
	// measures: each measurement is several queries, and a canary measured
	// less than hourly is not watched.
	MinAnalysisInterval = time.Second
	MaxAnalysisInterval = time.Hour
	// MaxAnalysisWindow bounds the range each query covers; a longer window
	// averages a new failure away and makes every query heavy.
	MaxAnalysisWindow = time.Hour

	// MaxSmokeEndpoints bounds smoke.endpoints: each is probed and then
	// shares smoke.requests.
	MaxSmokeEndpoints = 20
	// MaxSmokeRequests bounds smoke.requests (sent to canary and stable each).
	MaxSmokeRequests = 1000
	// MaxSmokeMemoryMB is the highest smoke.maxMemoryMB (64 GiB): above it
	// the memory check passes anything.
	MaxSmokeMemoryMB = 64 << 10
	// MaxLabels bounds metrics.prometheus.labels, which are added to every query.
	MaxLabels = 16
	// MaxLocalArgs bounds deploy.local.args.
	MaxLocalArgs = 32

	// MaxNameLen bounds names: traffic.header, traffic.cookie, the metric
	// and label names.
	MaxNameLen = 128
	// MaxValueLen bounds other strings: versions, images, label values,
	// paths, addresses, the Helm release, the channel and each argument.
	MaxValueLen = 256
	// MaxURLLen bounds URLs and the Helm chart reference.
	MaxURLLen = 2048

	// MaxErrorRateLimit is the highest maxErrorRate and maxErrorRateIncrease
	// (analysis and smoke): a canary failing half its requests must never
	// pass, and 1 (100 %) would switch the rule off.
	MaxErrorRateLimit = 0.5
	// MinP95Limit and MaxP95Limit bound analysis.thresholds.maxP95. The
	// default client_golang buckets end at 10s, above which
	// histogram_quantile cannot report, so a ceiling far above that never
	// fires.
	MinP95Limit = time.Millisecond
	MaxP95Limit = 30 * time.Second
	// MaxLatencyRatioLimit is the highest canary/stable latency ratio
	// (analysis and smoke); the ratio must also be above 1, since at 1 or
	// below a canary exactly as fast as stable fails.
	MaxLatencyRatioLimit = 10.0
	// MaxMinRequestRate is the highest analysis.thresholds.minRequestRate
	// (req/s); it must also be above 0, or a trickle of requests is judged.
	MaxMinRequestRate = 1e6
	// MaxFailuresLimit, MaxInconclusiveLimit and MaxConsecutiveErrorsLimit
	// bound analysis.limits: each tolerated measurement is an interval the
	// canary runs unjudged or failing, and a large limit switches analysis off.
	MaxFailuresLimit          = 10
	MaxInconclusiveLimit      = 20
	MaxConsecutiveErrorsLimit = 20

	// MaxCustomMetrics bounds analysis.metrics. Each metric is one or two
	// queries per measurement, and its resolved queries and values land in
	// every Measure activity's result in history (1,500 per run) and in the
	// 50 measurements the status keeps.
	MaxCustomMetrics = 8
	// MaxCustomQueryLen bounds one analysis.metrics[].query, and
	// MaxCustomQueriesLen all of them together: resolved, each is stored
	// with every measurement (twice when it is asked per version), so 2 KiB
	// of PromQL is at most ~5 KiB per measurement.
	MaxCustomQueryLen   = 1024
	MaxCustomQueriesLen = 2048
	// MaxConditionLen bounds a success or failure condition, and
	// MaxConditionTerms the comparisons it joins with && and ||.
	MaxConditionLen   = 256
	MaxConditionTerms = 8
)
