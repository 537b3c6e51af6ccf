// Package dashboards holds canaryflow's Grafana dashboards
// (grafana/canary-comparison.json, grafana/rollouts-overview.json) and
// Prometheus rules (prometheus/canary-rules.yml). The dashboards are
// generated from package boards (go generate ./dashboards/); the package
// exists so that `go test ./dashboards/` checks the committed JSON against
// the generator, every query against Prometheus' parser and the metric names
// something here exports, and the rules and dashboard against the real
// promtool and a real Prometheus scraping metrics recorded by package
// middleware. PromQL inside a JSON string or a YAML file is otherwise only
// found to be broken when someone opens the dashboard during an incident.
package dashboards

//go:generate go run ./gen -dir grafana
