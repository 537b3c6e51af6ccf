// Package charts holds canaryflow's Helm charts (app: a service as stable
// and canary behind NGINX or Gateway API; canaryflow-worker: the worker and
// its least-privilege RBAC) and, in its tests, their render, lint, schema and
// RBAC checks. It has no Go API.
package charts
