package compose

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery"
	"sigs.k8s.io/yaml"

	"github.com/canaryflow/canaryflow/rollout"
)

// urlHostPort is a URL's host:port, with the scheme's default port when it names none.
func urlHostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parsing URL %q: %w", raw, err)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("URL %q names no host", raw)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// checkPrometheus parses the configuration the prometheus service loads with Prometheus's
// own config package, and checks that every scrape target is a compose service and port,
// and that every rule file glob matches mounted files.
func (s *stack) checkPrometheus(pr *problems) {
	const field = "services.prometheus"
	svc, ok := s.services["prometheus"]
	if !ok {
		pr.addf("services", "no prometheus service")
		return
	}
	file, ok := flagValue(args(svc), "config.file")
	if !ok {
		file = "/etc/prometheus/prometheus.yml"
	}
	hp, data, err := readMounted(svc, file)
	if err != nil {
		pr.add(field+".command", fmt.Errorf("--config.file: %w", err))
		return
	}
	cfg, err := promconfig.Load(string(data), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		pr.add(hp, fmt.Errorf("Prometheus refuses it: %w", err))
		return
	}
	s.prometheus = cfg
	s.promJobs = map[string]*promconfig.ScrapeConfig{}
	for _, rf := range cfg.RuleFiles {
		host, ok := hostPath(svc, path.Dir(rf))
		if !ok {
			pr.addf(hp+": rule_files", "%s is not on a bind mount of %s", rf, field)
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(host, path.Base(rf))); len(m) == 0 {
			pr.addf(hp+": rule_files", "%s matches no file (looked in %s)", rf, host)
		}
	}
	scs, err := cfg.GetScrapeConfigs()
	if err != nil {
		pr.add(hp, fmt.Errorf("reading scrape_configs: %w", err))
		return
	}
	for _, sc := range scs {
		f := fmt.Sprintf("%s: scrape_configs[job=%s]", hp, sc.JobName)
		s.promJobs[sc.JobName] = sc
		if sc.Scheme != "http" {
			pr.addf(f, "scheme %q: the compose network is plain http", sc.Scheme)
		}
		for _, sd := range sc.ServiceDiscoveryConfigs {
			static, ok := sd.(discovery.StaticConfig)
			if !ok {
				pr.addf(f, "%s discovery cannot be checked against the compose file: use static_configs", sd.Name())
				continue
			}
			for _, g := range static {
				for _, t := range g.Targets {
					addr := string(t[model.AddressLabel])
					s.targets[sc.JobName] = append(s.targets[sc.JobName], addr)
					if err := s.reachable(addr); err != nil {
						pr.add(f+".static_configs", fmt.Errorf("target %w", err))
					}
				}
			}
		}
	}
	s.checkScrapeInterval(pr)
}

// checkScrapeInterval holds the worker's --scrape-interval to what Prometheus does: the
// sequential judgement counts per scrape.
func (s *stack) checkScrapeInterval(pr *problems) {
	worker, ok := s.services["worker"]
	demo := s.promJobs["demo"]
	if !ok || demo == nil {
		return
	}
	v, ok := flagValue(args(worker), "scrape-interval")
	if !ok {
		v = "15s" // the worker's default
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		pr.add("services.worker.command", fmt.Errorf("--scrape-interval=%s: %w", v, err))
		return
	}
	if got := time.Duration(demo.ScrapeInterval); got != d {
		pr.addf("services.worker.command", "--scrape-interval=%s, but Prometheus scrapes job demo every %s", v, got)
	}
}

// grafanaDatasource is one entry of a datasource provisioning file.
type grafanaDatasource struct {
	Name      string         `json:"name"`
	UID       string         `json:"uid,omitempty"`
	Type      string         `json:"type"`
	Access    string         `json:"access,omitempty"`
	URL       string         `json:"url"`
	IsDefault bool           `json:"isDefault,omitempty"`
	Editable  bool           `json:"editable,omitempty"`
	JSONData  map[string]any `json:"jsonData,omitempty"`
}

// grafanaProvider is one entry of a dashboard provisioning file.
type grafanaProvider struct {
	Name                  string `json:"name"`
	Folder                string `json:"folder,omitempty"`
	Type                  string `json:"type"`
	DisableDeletion       bool   `json:"disableDeletion,omitempty"`
	AllowUIUpdates        bool   `json:"allowUiUpdates,omitempty"`
	UpdateIntervalSeconds int    `json:"updateIntervalSeconds,omitempty"`
	Options               struct {
		Path                      string `json:"path"`
		FoldersFromFilesStructure bool   `json:"foldersFromFilesStructure,omitempty"`
	} `json:"options"`
}

// provisioningFiles reads the YAML files Grafana provisions from dir (in the container).
func provisioningFiles(pr *problems, field string, svc types.ServiceConfig, dir string) map[string][]byte {
	host, ok := hostPath(svc, dir)
	if !ok {
		pr.addf(field, "nothing is mounted at %s, so Grafana provisions nothing from it", dir)
		return nil
	}
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(host, pat))
		files = append(files, m...)
	}
	if len(files) == 0 {
		pr.addf(field, "%s (mounted at %s) holds no *.yaml or *.yml", host, dir)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			pr.add(field, fmt.Errorf("reading provisioning file: %w", err))
			continue
		}
		out[f] = b
	}
	return out
}

// checkGrafana parses the datasource and dashboard provisioning the grafana service mounts,
// and follows each path they name to mounted files.
func (s *stack) checkGrafana(pr *problems) {
	const field = "services.grafana"
	svc, ok := s.services["grafana"]
	if !ok {
		pr.addf("services", "no grafana service")
		return
	}
	root := "/etc/grafana/provisioning"
	if v := svc.Environment["GF_PATHS_PROVISIONING"]; v != nil {
		root = *v
	}
	defaults := 0
	for f, b := range provisioningFiles(pr, field+".volumes", svc, root+"/datasources") {
		var doc struct {
			APIVersion  int                 `json:"apiVersion"`
			Datasources []grafanaDatasource `json:"datasources"`
		}
		if err := yaml.UnmarshalStrict(b, &doc); err != nil {
			pr.add(f, fmt.Errorf("parsing datasource provisioning: %w", err))
			continue
		}
		if doc.APIVersion != 1 || len(doc.Datasources) == 0 {
			pr.addf(f, "want apiVersion: 1 and at least one datasource")
		}
		for i, ds := range doc.Datasources {
			df := fmt.Sprintf("%s: datasources[%d]", f, i)
			if ds.Name == "" || ds.Type == "" {
				pr.addf(df, "name and type are required")
			}
			if err := s.reachableURL(ds.URL); err != nil {
				pr.add(df+".url", err)
			}
			if ds.IsDefault {
				defaults++
			}
			s.datasources = append(s.datasources, ds)
		}
	}
	if len(s.datasources) > 0 && defaults != 1 {
		pr.addf(field, "%d provisioned datasources are isDefault: want exactly one", defaults)
	}
	for f, b := range provisioningFiles(pr, field+".volumes", svc, root+"/dashboards") {
		var doc struct {
			APIVersion int               `json:"apiVersion"`
			Providers  []grafanaProvider `json:"providers"`
		}
		if err := yaml.UnmarshalStrict(b, &doc); err != nil {
			pr.add(f, fmt.Errorf("parsing dashboard provisioning: %w", err))
			continue
		}
		if doc.APIVersion != 1 || len(doc.Providers) == 0 {
			pr.addf(f, "want apiVersion: 1 and at least one provider")
		}
		for i, p := range doc.Providers {
			s.checkDashboards(pr, fmt.Sprintf("%s: providers[%d]", f, i), svc, p)
		}
	}
	if home := svc.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != nil {
		if _, _, err := readMounted(svc, *home); err != nil {
			pr.add(field+".environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", err)
		}
	}
}

// checkDashboards follows a file provider to its mounted dashboards and reads each one.
func (s *stack) checkDashboards(pr *problems, field string, svc types.ServiceConfig, p grafanaProvider) {
	if p.Type != "file" {
		pr.addf(field+".type", "%q: only file providers are used here", p.Type)
		return
	}
	host, ok := hostPath(svc, p.Options.Path)
	if !ok {
		pr.addf(field+".options.path", "%s is not on a bind mount of services.grafana", p.Options.Path)
		return
	}
	files, _ := filepath.Glob(filepath.Join(host, "*.json"))
	if len(files) == 0 {
		pr.addf(field+".options.path", "%s (mounted at %s) holds no dashboard JSON", host, p.Options.Path)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			pr.add(field, fmt.Errorf("reading dashboard: %w", err))
			continue
		}
		var d struct {
			UID        string `json:"uid"`
			Title      string `json:"title"`
			Templating struct {
				List []struct {
					Type  string `json:"type"`
					Name  string `json:"name"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			pr.add(f, fmt.Errorf("parsing dashboard JSON: %w", err))
			continue
		}
		if d.UID == "" || d.Title == "" {
			pr.addf(f, "a provisioned dashboard needs a uid and a title")
		}
		s.dashboards[d.UID] = d.Title
		for _, v := range d.Templating.List {
			plugin, _ := v.Query.(string)
			if v.Type == "datasource" && !slices.ContainsFunc(s.datasources, func(ds grafanaDatasource) bool { return ds.Type == plugin }) {
				pr.addf(f, "variable %q wants a %q datasource; none is provisioned", v.Name, plugin)
			}
		}
	}
}

// checkTemporal follows the temporal service's dynamic configuration path to the mounted
// file and parses it in the server's format: each key a list of values with constraints.
func (s *stack) checkTemporal(pr *problems) {
	const field = "services.temporal.environment.DYNAMIC_CONFIG_FILE_PATH"
	svc, ok := s.services["temporal"]
	if !ok {
		pr.addf("services", "no temporal service")
		return
	}
	p := svc.Environment["DYNAMIC_CONFIG_FILE_PATH"]
	if p == nil {
		return // the image's own default file
	}
	file := *p
	if !path.IsAbs(file) {
		file = path.Join("/etc/temporal", file) // the server image's working directory
	}
	hp, data, err := readMounted(svc, file)
	if err != nil {
		pr.add(field, err)
		return
	}
	var dc map[string][]struct {
		Value       any            `json:"value"`
		Constraints map[string]any `json:"constraints"`
	}
	if err := yaml.UnmarshalStrict(data, &dc); err != nil {
		pr.add(hp, fmt.Errorf("parsing Temporal dynamic config: %w", err))
	}
	s.checkNamespace(pr)
}

// checkNamespace holds the temporal-namespace service to what the worker needs: the
// namespace the worker and starter use, with every search attribute rollouts set, each with
// its type (the worker refuses to start otherwise).
func (s *stack) checkNamespace(pr *problems) {
	const field = "services.temporal-namespace.environment"
	svc, ok := s.services["temporal-namespace"]
	if !ok {
		pr.addf("services", "no temporal-namespace service: nothing registers the namespace and search attributes")
		return
	}
	env := func(service, key string) string {
		if v := s.services[service].Environment[key]; v != nil {
			return *v
		}
		return ""
	}
	ns := env("temporal-namespace", "NAMESPACE")
	for _, client := range []string{"worker", "starter"} {
		if got := env(client, "TEMPORAL_NAMESPACE"); got != ns {
			pr.addf(field+".NAMESPACE", "registers %q, but services.%s uses TEMPORAL_NAMESPACE=%q", ns, client, got)
		}
	}
	got := map[string]string{}
	if v := svc.Environment["SEARCH_ATTRIBUTES"]; v != nil {
		for _, pair := range strings.Fields(*v) {
			name, typ, ok := strings.Cut(pair, "=")
			if !ok {
				pr.addf(field+".SEARCH_ATTRIBUTES", "%q is not Name=Type", pair)
			}
			got[name] = typ
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rollout.SearchAttrTypes)) {
		if want := rollout.SearchAttrTypes[name]; got[name] != want {
			pr.addf(field+".SEARCH_ATTRIBUTES", "want %s=%s (rollout.SearchAttrTypes), got %q", name, want, got[name])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, ok := rollout.SearchAttrTypes[name]; !ok {
			pr.addf(field+".SEARCH_ATTRIBUTES", "%s is not a canaryflow search attribute", name)
		}
	}
}

// checkSpec parses the rollout spec the starter service starts, as the starter does, and
// checks that what it names exists in the stack: services and ports, the worker's provider
// kinds, the Prometheus job and app label its queries match.
func (s *stack) checkSpec(pr *problems) {
	const field = "services.starter.command"
	svc, ok := s.services["starter"]
	if !ok {
		pr.addf("services", "no starter service")
		return
	}
	file, ok := flagValue(svc.Command, "f")
	if !ok {
		pr.addf(field, "starts no spec: want start -f <spec>")
		return
	}
	hp, data, err := readMounted(svc, file)
	if err != nil {
		pr.add(field, err)
		return
	}
	s.specPath = hp
	spec, err := rollout.Parse(data)
	if err == nil {
		err = spec.Validate()
	}
	if err != nil {
		pr.add(hp, fmt.Errorf("the starter refuses the spec: %w", err))
		return
	}
	s.spec = spec
	urls := map[string]string{"smoke.baseURL": spec.Smoke.BaseURL, "smoke.stableURL": spec.Smoke.StableURL, "smoke.canaryURL": spec.Smoke.CanaryURL}
	if l := spec.Traffic.Local; l != nil {
		urls["traffic.local.adminURL"] = l.AdminURL
	}
	if p := spec.Metrics.Prometheus; p != nil {
		urls["metrics.prometheus.address"] = p.Address
	}
	for _, k := range slices.Sorted(maps.Keys(urls)) {
		if urls[k] != "" {
			if err := s.reachableURL(urls[k]); err != nil {
				pr.add(hp+": "+k, err)
			}
		}
	}
	s.checkSpecAgainstWorker(pr, hp, spec)
}

// checkSpecAgainstWorker checks the spec's kinds against the worker's flags and its metric
// labels against the Prometheus configuration.
func (s *stack) checkSpecAgainstWorker(pr *problems, hp string, spec rollout.Spec) {
	worker, ok := s.services["worker"]
	if !ok {
		pr.addf("services", "no worker service")
		return
	}
	wargs := args(worker)
	if u, ok := flagValue(wargs, "prometheus-url"); ok {
		if err := s.reachableURL(u); err != nil {
			pr.add("services.worker.command: --prometheus-url", err)
		}
	}
	switch spec.Deploy.Kind {
	case "memory":
		if !hasFlag(wargs, "dry-run-providers") {
			pr.addf(hp+": deploy.kind", "memory, but services.worker runs without --dry-run-providers")
		}
	case "local":
		if _, ok := flagValue(wargs, "demo-binary"); !ok {
			pr.addf(hp+": deploy.kind", "local, but services.worker runs without --demo-binary")
		}
	case "helm":
		if hasFlag(wargs, "no-kube") {
			pr.addf(hp+": deploy.kind", "helm, but services.worker runs with --no-kube")
		}
	}
	p := spec.Metrics.Prometheus
	if spec.Metrics.Kind != "prometheus" || p == nil || s.prometheus == nil {
		return
	}
	job, ok := p.Labels["job"]
	if !ok {
		return
	}
	sc := s.promJobs[job]
	if sc == nil {
		pr.addf(hp+": metrics.prometheus.labels.job", "%q is not a scrape job of the stack's Prometheus (jobs: %s)", job, strings.Join(slices.Sorted(maps.Keys(s.promJobs)), ", "))
		return
	}
	app, named := p.Labels["app"]
	if !named {
		app = spec.App // canaryflow adds app="<app>" unless the labels name app
	}
	for _, sd := range sc.ServiceDiscoveryConfigs {
		static, _ := sd.(discovery.StaticConfig)
		for _, g := range static {
			if got := string(g.Labels["app"]); got != app {
				pr.addf(hp+": metrics.prometheus.labels", "queries match app=%q, but job %s's targets %v carry app=%q", app, job, g.Targets, got)
			}
		}
	}
}
