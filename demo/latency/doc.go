// Package latency holds the benchmarks behind `make bench-latency`: how
// long the embedded default takes to take traffic off a bad canary (fault →
// weight 0, with where the seconds go), how long an abort takes in each
// phase, and what orchestration adds to a rollout's configured holds. They
// run on real parts only — the Temporal dev server, a worker process, the
// demo's router and app processes, a real Prometheus and real HTTP load —
// and time what the router itself does, not what the workflow logs.
package latency
