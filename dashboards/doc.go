// Package dashboards holds canaryflow's Grafana dashboard
// (grafana/canary-comparison.json) and Prometheus rules
// (prometheus/canary-rules.yml). They are data, not Go code: the package
// exists so that `go test ./dashboards/` checks them against the real
// promtool and a real Prometheus scraping metrics recorded by package
// middleware. PromQL inside a JSON string or a YAML file is otherwise only
// found to be broken when someone opens the dashboard during an incident.
package dashboards
