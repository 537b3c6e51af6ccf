// Package compose holds the configuration that the repository's docker-compose.yml mounts
// into its containers: Prometheus's scrape configuration, Grafana's datasource and
// dashboard provisioning, and Temporal's schema setup, namespace registration and dynamic
// configuration. Its tests check docker-compose.yml without a Docker engine: the compose
// specification's own Go loader reads the file, and the checks compare it with the
// Dockerfile, the mounted files, the Prometheus configuration (parsed by Prometheus's own
// config package), the Grafana provisioning and the rollout spec the compose demo starts.
package compose
