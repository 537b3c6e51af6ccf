package compose

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	promconfig "github.com/prometheus/prometheus/config"

	"github.com/canaryflow/canaryflow/rollout"
)

// composeFile is the file under test, relative to the repository root.
const composeFile = "docker-compose.yml"

// cliProfile holds the services run on demand with `docker compose run` (the starter): they
// are one-shots, not long-running services, and need no healthcheck.
const cliProfile = "cli"

// problems collects every check that failed, each naming the field at fault, so that one run
// reports all of them.
type problems []error

func (p *problems) addf(field, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (p *problems) add(field string, err error) {
	*p = append(*p, fmt.Errorf("%s: %w", field, err))
}

// stack is docker-compose.yml as loaded and checked, with what the checks read on the way,
// so that tests can assert on what was actually examined.
type stack struct {
	root        string
	project     *types.Project
	services    types.Services // active and profile-gated services alike
	dockerfiles map[string]*dockerfile
	prometheus  *promconfig.Config
	promJobs    map[string]*promconfig.ScrapeConfig
	targets     map[string][]string // scrape job → host:port targets
	datasources []grafanaDatasource
	dashboards  map[string]string // dashboard uid → title
	specPath    string
	spec        rollout.Spec
}

// loadProject reads a compose file with the compose specification's loader, relative to
// root, with env as the only environment (so defaults in ${VAR:-default} apply) and every
// profile enabled. skipConsistency leaves the loader's own cross-reference check out, so
// that checkStack can report those problems itself, naming the field.
func loadProject(ctx context.Context, root string, content []byte, env map[string]string, skipConsistency bool) (*types.Project, error) {
	details := types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, composeFile), Content: content}},
		Environment: env,
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName("canaryflow", true)
		o.Profiles = []string{"*"}
		o.SkipConsistencyCheck = skipConsistency
	})
	if err != nil {
		return nil, fmt.Errorf("loading %s with the compose loader: %w", composeFile, err)
	}
	return p, nil
}

// checkStack loads content as docker-compose.yml and runs every check; the error joins all
// problems found. The returned stack holds what was read even when checks failed.
func checkStack(ctx context.Context, root string, content []byte) (*stack, error) {
	p, err := loadProject(ctx, root, content, map[string]string{}, true)
	if err != nil {
		return nil, err
	}
	s := &stack{
		root:        root,
		project:     p,
		services:    p.AllServices(),
		dockerfiles: map[string]*dockerfile{},
		targets:     map[string][]string{},
		dashboards:  map[string]string{},
	}
	var pr problems
	s.checkServices(&pr)
	s.checkPrometheus(&pr)
	s.checkGrafana(&pr)
	s.checkTemporal(&pr)
	s.checkSpec(&pr)
	if len(pr) > 0 {
		return s, errors.Join(pr...)
	}
	// The loader's own consistency check last: with the checks above passing, anything it
	// still finds is a kind of problem they do not know.
	if _, err := loadProject(ctx, root, content, map[string]string{}, false); err != nil {
		return s, fmt.Errorf("compose consistency check: %w", err)
	}
	return s, nil
}

// serviceNames returns every service's name, sorted, for stable error order.
func (s *stack) serviceNames() []string {
	return slices.Sorted(maps.Keys(s.services))
}

// oneShot reports whether a service runs to completion instead of serving: another service
// waits for it with service_completed_successfully, or it is run on demand (profile cli).
func (s *stack) oneShot(name string) bool {
	if slices.Contains(s.services[name].Profiles, cliProfile) {
		return true
	}
	for _, other := range s.services {
		if d, ok := other.DependsOn[name]; ok && d.Condition == types.ServiceConditionCompletedSuccessfully {
			return true
		}
	}
	return false
}

// hostPath maps a path inside a service's containers to the file behind it, through the
// service's bind mount with the longest matching target. ok is false when no bind mount
// covers the path.
func hostPath(svc types.ServiceConfig, containerPath string) (string, bool) {
	containerPath = path.Clean(containerPath)
	best, bestLen := "", -1
	for _, v := range svc.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		target := path.Clean(v.Target)
		rel, ok := strings.CutPrefix(containerPath, target)
		if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) || len(target) <= bestLen {
			continue
		}
		best, bestLen = filepath.Join(v.Source, filepath.FromSlash(rel)), len(target)
	}
	return best, bestLen >= 0
}

// args is a service's entrypoint and command as one list.
func args(svc types.ServiceConfig) []string {
	return append(slices.Clone([]string(svc.Entrypoint)), svc.Command...)
}

// flagValue returns the value of --name=value or --name value (one or two dashes) in list.
func flagValue(list []string, name string) (string, bool) {
	for i, a := range list {
		trimmed := strings.TrimLeft(a, "-")
		if len(trimmed) == len(a) || len(a)-len(trimmed) > 2 {
			continue
		}
		if v, ok := strings.CutPrefix(trimmed, name+"="); ok {
			return v, true
		}
		if trimmed == name && i+1 < len(list) {
			return list[i+1], true
		}
	}
	return "", false
}

// hasFlag reports whether --name (or -name) is in list as a boolean flag.
func hasFlag(list []string, name string) bool {
	return slices.Contains(list, "--"+name) || slices.Contains(list, "-"+name) || slices.Contains(list, "--"+name+"=true")
}

// listenFlag matches the address flags of canaryflow's binaries: --addr, --admin-addr,
// --metrics-address.
var listenFlag = regexp.MustCompile(`^--?[a-z-]*addr(ess)?=(.*)$`)

// listenPorts are the ports a service built from this repository listens on, read from its
// address flags.
func listenPorts(svc types.ServiceConfig) []string {
	var ports []string
	for _, a := range args(svc) {
		m := listenFlag.FindStringSubmatch(a)
		if m == nil {
			continue
		}
		if _, port, err := net.SplitHostPort(m[2]); err == nil && port != "" {
			ports = append(ports, port)
		}
	}
	return ports
}

// containerPorts are the ports a service declares inside the compose network: expose and
// the targets of ports.
func containerPorts(svc types.ServiceConfig) []string {
	ports := slices.Clone([]string(svc.Expose))
	for _, p := range svc.Ports {
		ports = append(ports, strconv.FormatUint(uint64(p.Target), 10))
	}
	return ports
}

// reachable checks that host:port names a compose service that declares the port, the way
// another container on the compose network reaches it.
func (s *stack) reachable(hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", hostport, err)
	}
	svc, ok := s.services[host]
	if !ok {
		return fmt.Errorf("%s: no compose service %q (services: %s)", hostport, host, strings.Join(s.serviceNames(), ", "))
	}
	if !slices.Contains(containerPorts(svc), port) {
		return fmt.Errorf("%s: services.%s does not expose port %s (it declares %v)", hostport, host, port, containerPorts(svc))
	}
	if svc.Build != nil && !slices.Contains(listenPorts(svc), port) {
		return fmt.Errorf("%s: services.%s declares port %s but its command listens on %v", hostport, host, port, listenPorts(svc))
	}
	return nil
}

// reachableURL is reachable for a URL's host and port (default 80 for http).
func (s *stack) reachableURL(raw string) error {
	host, err := urlHostPort(raw)
	if err != nil {
		return err
	}
	return s.reachable(host)
}

// readMounted reads the file a container sees at containerPath, through a bind mount of svc.
func readMounted(svc types.ServiceConfig, containerPath string) (string, []byte, error) {
	p, ok := hostPath(svc, containerPath)
	if !ok {
		return "", nil, fmt.Errorf("%s is not on a bind mount of services.%s", containerPath, svc.Name)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return p, nil, fmt.Errorf("reading %s (mounted at %s): %w", p, containerPath, err)
	}
	return p, b, nil
}
