package main

import (
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/canaryflow/canaryflow/activities"
	deploylocal "github.com/canaryflow/canaryflow/activities/deploy/local"
	deploymem "github.com/canaryflow/canaryflow/activities/deploy/memory"
	metricsmem "github.com/canaryflow/canaryflow/activities/metrics/memory"
	"github.com/canaryflow/canaryflow/activities/metrics/prometheus"
	notifylog "github.com/canaryflow/canaryflow/activities/notify/log"
	notifyslack "github.com/canaryflow/canaryflow/activities/notify/slack"
	trafficlocal "github.com/canaryflow/canaryflow/activities/traffic/local"
	trafficmem "github.com/canaryflow/canaryflow/activities/traffic/memory"
	"github.com/canaryflow/canaryflow/rollout"
	"github.com/canaryflow/canaryflow/workflows"
)

// config is what the worker needs to build its providers. Each provider kind
// is served only when what it needs is configured; a spec naming a kind the
// worker lacks is refused in preflight, before anything is touched.
type config struct {
	incidentDir     string
	prometheusURL   string
	prometheusToken string
	scrapeInterval  time.Duration
	demoBinary      string
	stateDir        string
	dryRun          bool
	slackToken      string
	slackChannel    string
	slackAPIURL     string
	hostQueue       string
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.incidentDir, "incident-dir", "incidents", "where rollback incident reports are written")
	fs.StringVar(&c.prometheusURL, "prometheus-url", envOr("PROMETHEUS_URL", "http://127.0.0.1:9090"),
		"the worker's Prometheus, used when a spec names none (env PROMETHEUS_URL); "+
			"http://user:password@host:port gives it basic-auth credentials, sent to this scheme, host and port only")
	// PROMETHEUS_URL may carry a password: --help shows the default redacted.
	if f := fs.Lookup("prometheus-url"); f != nil {
		f.DefValue = rollout.RedactURL(f.DefValue)
	}
	fs.DurationVar(&c.scrapeInterval, "scrape-interval", 15*time.Second, "how often Prometheus scrapes the apps: the shortest span sequential judgement counts over")
	fs.StringVar(&c.prometheusToken, "prometheus-token", "", "bearer token for the worker's Prometheus, instead of user:password (default: env PROMETHEUS_TOKEN)")
	fs.StringVar(&c.demoBinary, "demo-binary", "", "demoapp executable: enables the local deployer (kind local) that runs versions as processes")
	fs.StringVar(&c.stateDir, "state-dir", ".canaryflow", "local deployer state and logs")
	fs.StringVar(&c.slackToken, "slack-token", "", "Slack bot token: enables notify kind slack (default: env SLACK_BOT_TOKEN)")
	fs.StringVar(&c.slackChannel, "slack-channel", "", "Slack channel used when a spec names none")
	fs.StringVar(&c.slackAPIURL, "slack-api-url", "", "Slack API base URL override (proxies, tests)")
	fs.StringVar(&c.hostQueue, "host-queue", "", "task queue for this host's host-bound activities (local deployer); default: derived from the host name and --state-dir, so a restarted worker takes its rollouts back")
	fs.BoolVar(&c.dryRun, "dry-run-providers", false, "also serve the in-memory kinds (kind memory): rollouts that touch nothing, for trying the engine")
}

// hostQueue names this host's queue from the host name and the absolute
// state directory: two workers on one host with separate state are separate
// owners, and a worker restarted with the same state takes its queue back.
func hostQueue(stateDir string) (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("naming the host queue: %w", err)
	}
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return "", fmt.Errorf("naming the host queue: %w", err)
	}
	return workflows.TaskQueue + "@" + host + ":" + dir, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// activities builds the providers this worker serves.
func (c *config) activities(logger *slog.Logger) (*activities.Activities, error) {
	a := &activities.Activities{
		Deployers:   map[string]activities.Deployer{},
		Routers:     map[string]activities.TrafficRouter{"local": trafficlocal.New(nil)},
		Metrics:     map[string]activities.MetricsSource{"prometheus": c.prometheus(logger)},
		Notifiers:   map[string]activities.Notifier{"log": notifylog.Notifier{Logger: logger}},
		IncidentDir: c.incidentDir,
		HostQueue:   c.hostQueue,
	}
	if a.HostQueue == "" {
		q, err := hostQueue(c.stateDir)
		if err != nil {
			return nil, err
		}
		a.HostQueue = q
	}
	if c.demoBinary != "" {
		d, err := deploylocal.New(deploylocal.Config{
			Binary: c.demoBinary, StateDir: filepath.Join(c.stateDir, "state"), LogDir: filepath.Join(c.stateDir, "logs"),
		})
		if err != nil {
			return nil, fmt.Errorf("local deployer: %w", err)
		}
		a.Deployers["local"] = d
	}
	if c.slackToken == "" {
		c.slackToken = os.Getenv("SLACK_BOT_TOKEN")
	}
	if c.slackToken != "" {
		n, err := notifyslack.New(c.slackToken, c.slackChannel, c.slackAPIURL)
		if err != nil {
			return nil, err
		}
		a.Notifiers["slack"] = n
	}
	if c.dryRun {
		a.Deployers["memory"] = deploymem.New()
		a.Routers["memory"] = trafficmem.New()
		a.Metrics["memory"] = metricsmem.New(nil)
	}
	return a, nil
}

// prometheus builds the Prometheus source with the worker's credentials,
// which a spec cannot carry: user:password in --prometheus-url, or a bearer
// token (read from the environment here, not as the flag's default, so that
// --help never shows it).
func (c *config) prometheus(logger *slog.Logger) *prometheus.Source {
	if c.prometheusToken == "" {
		c.prometheusToken = os.Getenv("PROMETHEUS_TOKEN")
	}
	opts := []prometheus.Option{prometheus.WithLogger(logger)}
	if c.prometheusToken != "" {
		opts = append(opts, prometheus.WithBearerToken(c.prometheusToken))
	}
	opts = append(opts, prometheus.WithScrapeInterval(c.scrapeInterval))
	return prometheus.New(c.prometheusURL, opts...)
}

func (c *config) describe(a *activities.Activities) string {
	keys := func(m []string) string { return strings.Join(m, ",") }
	return fmt.Sprintf("deploy=%s traffic=%s metrics=%s notify=%s",
		keys(slices.Sorted(maps.Keys(a.Deployers))), keys(slices.Sorted(maps.Keys(a.Routers))),
		keys(slices.Sorted(maps.Keys(a.Metrics))), keys(slices.Sorted(maps.Keys(a.Notifiers))))
}
