package devstack

import (
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"
)

// The subset of Prometheus's configuration file devstack writes.
type promConfig struct {
	Global        promGlobal         `json:"global"`
	RuleFiles     []string           `json:"rule_files,omitempty"`
	ScrapeConfigs []promScrapeConfig `json:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval     string `json:"scrape_interval"`
	ScrapeTimeout      string `json:"scrape_timeout"`
	EvaluationInterval string `json:"evaluation_interval"`
}

type promScrapeConfig struct {
	JobName       string             `json:"job_name"`
	StaticConfigs []promStaticConfig `json:"static_configs"`
}

type promStaticConfig struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels,omitempty"`
}

var promLabelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// prometheusConfig renders opts as prometheus.yml, checking what Prometheus
// would otherwise reject only in its log, so the caller gets a clear error.
func prometheusConfig(opts PrometheusOptions) ([]byte, error) {
	// Prometheus durations have no fractions ("1s500ms", not "1.5s").
	interval := model.Duration(opts.ScrapeInterval.Round(time.Millisecond)).String()
	if opts.ScrapeInterval < time.Millisecond {
		return nil, fmt.Errorf("scrape interval %s is below Prometheus's 1ms resolution", opts.ScrapeInterval)
	}
	cfg := promConfig{
		Global: promGlobal{
			ScrapeInterval: interval,
			// The timeout may not exceed the interval; the default 10 s would.
			ScrapeTimeout:      interval,
			EvaluationInterval: interval,
		},
		RuleFiles:     opts.RuleFiles,
		ScrapeConfigs: []promScrapeConfig{},
	}
	for job := range opts.JobLabels {
		if _, ok := opts.Jobs[job]; !ok {
			return nil, fmt.Errorf("labels given for job %q, which is not in Jobs", job)
		}
	}
	for _, job := range slices.Sorted(maps.Keys(opts.Jobs)) {
		if job == "" {
			return nil, fmt.Errorf("a job name is empty")
		}
		targets := opts.Jobs[job]
		if len(targets) == 0 {
			return nil, fmt.Errorf("job %q has no targets", job)
		}
		for _, t := range targets {
			if _, _, err := net.SplitHostPort(t); err != nil {
				return nil, fmt.Errorf("job %q: target %q is not host:port: %w", job, t, err)
			}
		}
		for name := range opts.JobLabels[job] {
			if !promLabelNameRe.MatchString(name) {
				return nil, fmt.Errorf("job %q: %q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", job, name)
			}
		}
		cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, promScrapeConfig{
			JobName:       job,
			StaticConfigs: []promStaticConfig{{Targets: targets, Labels: opts.JobLabels[job]}},
		})
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the config as YAML: %w", err)
	}
	return out, nil
}
