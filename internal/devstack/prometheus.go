//go:build unix

package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// PrometheusOptions configure StartPrometheus. Only Jobs is usually set.
type PrometheusOptions struct {
	// BinDir holds the prometheus binary; empty means BinDir().
	BinDir string
	// Port is the HTTP port; 0 picks a free one (the demo pins 9090).
	Port int
	// Jobs maps a scrape job name to its host:port targets, scraped at /metrics.
	Jobs map[string][]string
	// JobLabels adds static labels to every series of a job, the way a
	// production config would add app or namespace labels.
	JobLabels map[string]map[string]string
	// ScrapeInterval is also the rule evaluation interval; 0 means 1 s, so
	// tests see data within seconds.
	ScrapeInterval time.Duration
	// RuleFiles are recording/alerting rule files to load (for dashboards/ rules).
	RuleFiles []string
	// DataDir holds the config and the TSDB; empty means a temporary
	// directory that Stop removes.
	DataDir string
	// TSDBDir, when set, is the TSDB Prometheus opens instead of one in
	// DataDir: blocks written into it beforehand (promtool tsdb
	// create-blocks-from openmetrics) are queried as recorded. Prometheus
	// adds its lock and WAL to it; Stop leaves it in place.
	TSDBDir string
	// ExtraArgs are appended to the command line (e.g. --enable-feature=...).
	ExtraArgs []string
	// LogLevel is Prometheus's --log.level; empty means warn.
	LogLevel string
	// Log receives the server's output; nil keeps only the tail (see LogTail).
	Log io.Writer
	// StartTimeout bounds waiting for /-/ready; 0 means 30 s.
	StartTimeout time.Duration
}

// Prometheus is a running Prometheus server scraping the configured jobs.
type Prometheus struct {
	proc       *process
	url        string
	configPath string
	removeDir  string // the temporary DataDir, if devstack made it
}

// StartPrometheus writes a config for opts.Jobs and starts Prometheus on
// 127.0.0.1, returning once /-/ready answers 200. ctx bounds only the start.
func StartPrometheus(ctx context.Context, opts PrometheusOptions) (*Prometheus, error) {
	bin, err := Binary(opts.BinDir, "prometheus")
	if err != nil {
		return nil, fmt.Errorf("starting prometheus: %w", err)
	}
	if opts.ScrapeInterval == 0 {
		opts.ScrapeInterval = time.Second
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	cfg, err := prometheusConfig(opts)
	if err != nil {
		return nil, fmt.Errorf("generating the prometheus config: %w", err)
	}
	dir, removeDir := opts.DataDir, ""
	if dir == "" {
		if dir, err = os.MkdirTemp("", "canaryflow-prometheus-*"); err != nil {
			return nil, fmt.Errorf("creating prometheus's data directory: %w", err)
		}
		removeDir = dir
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating prometheus's data directory: %w", err)
	}
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, cfg, 0o644); err != nil {
		os.RemoveAll(removeDir)
		return nil, fmt.Errorf("writing the prometheus config: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		p, err := startPrometheusOnce(ctx, bin, dir, configPath, opts)
		if err == nil {
			p.removeDir = removeDir
			return p, nil
		}
		var pe *portError
		if !errors.As(err, &pe) || attempt == startAttempts || opts.Port != 0 {
			os.RemoveAll(removeDir)
			return nil, err
		}
		slog.Debug("devstack: prometheus port taken, retrying", "attempt", attempt, "err", err)
	}
}

func startPrometheusOnce(ctx context.Context, bin, dir, configPath string, opts PrometheusOptions) (*Prometheus, error) {
	port := opts.Port
	if port == 0 {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tsdb := opts.TSDBDir
	if tsdb == "" {
		tsdb = filepath.Join(dir, "data")
	}
	args := []string{
		"--config.file=" + configPath,
		"--storage.tsdb.path=" + tsdb,
		"--web.listen-address=" + addr,
		"--web.enable-lifecycle",
		"--log.level=" + opts.LogLevel,
	}
	if web := webAssets(bin); web != "" {
		args = append(args, "--web.local-assets="+web)
	}
	args = append(args, opts.ExtraArgs...)
	proc, err := startProcess("prometheus", bin, args, opts.Log)
	if err != nil {
		return nil, err
	}
	p := &Prometheus{proc: proc, url: "http://" + addr, configPath: configPath}
	if err := p.waitReady(ctx); err != nil {
		return nil, proc.failedStart(err)
	}
	return p, nil
}

// webAssets finds the web/ directory tools/prometheus/install.sh unpacks
// beside the real binary (bin/prometheus is a symlink into the cache).
// Debian's binary otherwise looks in /usr/share/prometheus/web, which only
// the package install creates; without it the API works but pages do not.
func webAssets(bin string) string {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return ""
	}
	web := filepath.Join(filepath.Dir(real), "web")
	if fi, err := os.Stat(web); err == nil && fi.IsDir() {
		return web
	}
	return ""
}

func (p *Prometheus) waitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: time.Second}
	return p.proc.waitUntil(ctx, "prometheus at "+p.url+" to be ready", 100*time.Millisecond, func(ctx context.Context) error {
		return probeReady(ctx, hc, p.url+"/-/ready")
	})
}

func probeReady(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building the readiness request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// URL is the server's base URL, e.g. http://127.0.0.1:9090, as a metrics
// source's address.
func (p *Prometheus) URL() string { return p.url }

// ConfigPath is the generated configuration file, for reading or editing
// before a reload (POST URL()/-/reload; the lifecycle API is enabled).
func (p *Prometheus) ConfigPath() string { return p.configPath }

// LogTail returns the server's most recent output, for failure reports.
func (p *Prometheus) LogTail() string { return p.proc.tail.String() }

// Stop shuts the server down, waits for it to exit and removes the temporary
// data directory. It returns an error if the server had crashed before Stop;
// calling it again is a no-op.
func (p *Prometheus) Stop() error {
	err := p.proc.stop(5 * time.Second)
	if p.removeDir != "" {
		if rerr := os.RemoveAll(p.removeDir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing %s: %w", p.removeDir, rerr))
		}
	}
	if err != nil {
		return fmt.Errorf("stopping prometheus at %s: %w", p.url, err)
	}
	return nil
}
