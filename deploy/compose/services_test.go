package compose

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// checkServices runs the per-service checks: builds, mounts, published ports,
// dependencies, healthchecks and image pins.
func (s *stack) checkServices(pr *problems) {
	var published []publishedPort
	for _, name := range s.serviceNames() {
		svc := s.services[name]
		field := "services." + name
		s.checkBuild(pr, field, svc)
		s.checkVolumes(pr, field, svc)
		published = checkPorts(pr, field, svc, published)
		s.checkDependsOn(pr, field, svc)
		s.checkHealthcheck(pr, field, svc)
		if svc.Build == nil && !pinnedTag(svc.Image) {
			pr.addf(field+".image", "%q is not pinned: name a version tag or digest, not latest", svc.Image)
		}
		for _, a := range args(svc) {
			// Scripts a service runs from a mount must be there.
			if strings.HasPrefix(a, "/") && strings.HasSuffix(a, ".sh") {
				if _, _, err := readMounted(svc, a); err != nil {
					pr.add(field+".entrypoint", err)
				}
			}
		}
	}
}

func (s *stack) checkBuild(pr *problems, field string, svc types.ServiceConfig) {
	b := svc.Build
	if b == nil {
		return
	}
	if fi, err := os.Stat(b.Context); err != nil || !fi.IsDir() {
		pr.addf(field+".build.context", "%s is not a directory", b.Context)
		return
	}
	df := b.Dockerfile
	if df == "" {
		df = "Dockerfile"
	}
	if !filepath.IsAbs(df) {
		df = filepath.Join(b.Context, df)
	}
	d, ok := s.dockerfiles[df]
	if !ok {
		var err error
		if d, err = parseDockerfile(df); err != nil {
			pr.add(field+".build.dockerfile", err)
			return
		}
		s.dockerfiles[df] = d
		s.checkDockerfile(pr, field+".build.dockerfile", d)
	}
	if b.Target == "" {
		pr.addf(field+".build.target", "is empty: name one of the stages of %s (%s)", df, strings.Join(d.stageNames(), ", "))
		return
	}
	st := d.stage(b.Target)
	if st == nil {
		pr.addf(field+".build.target", "no stage %q in %s (stages: %s)", b.Target, df, strings.Join(d.stageNames(), ", "))
		return
	}
	if u := d.effectiveUser(st); rootUser(u) {
		pr.addf(field+".build.target", "stage %q of %s runs as root (USER %q): set a non-root USER", b.Target, df, u)
	}
}

// checkDockerfile holds a Dockerfile to multi-stage builds whose last stage runs as a
// non-root user from pinned base images.
func (s *stack) checkDockerfile(pr *problems, field string, d *dockerfile) {
	if len(d.stages) < 2 {
		pr.addf(field, "%s has one stage: build in one stage and copy the binary into a small final one", d.path)
	}
	last := d.stages[len(d.stages)-1]
	if u := d.effectiveUser(last); rootUser(u) {
		pr.addf(field, "the last stage of %s (line %d) runs as root (USER %q)", d.path, last.line, u)
	}
	for _, st := range d.externalBases() {
		if !pinnedTag(st.base) {
			pr.addf(field, "%s line %d: base image %q is not pinned to a version", d.path, st.line, st.base)
		}
	}
}

func (s *stack) checkVolumes(pr *problems, field string, svc types.ServiceConfig) {
	for i, v := range svc.Volumes {
		f := fmt.Sprintf("%s.volumes[%d]", field, i)
		switch v.Type {
		case types.VolumeTypeBind:
			if _, err := os.Stat(v.Source); err != nil {
				pr.addf(f, "bind source %s does not exist (mounted at %s)", v.Source, v.Target)
			}
			if !v.ReadOnly {
				pr.addf(f, "bind mount of %s at %s is writable: the stack's configuration is mounted :ro", v.Source, v.Target)
			}
		case types.VolumeTypeVolume:
			if _, ok := s.project.Volumes[v.Source]; !ok {
				pr.addf(f, "named volume %q is not declared under the top-level volumes", v.Source)
			}
		}
	}
}

// publishedPort is one host port a service publishes.
type publishedPort struct {
	field    string
	hostIP   string
	port     int
	protocol string
}

// overlaps reports whether two published ports would take the same host socket.
func (p publishedPort) overlaps(q publishedPort) bool {
	wildcard := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return p.port == q.port && p.protocol == q.protocol && (p.hostIP == q.hostIP || wildcard(p.hostIP) || wildcard(q.hostIP))
}

// checkPorts adds svc's published ports to seen, reporting any already taken.
func checkPorts(pr *problems, field string, svc types.ServiceConfig, seen []publishedPort) []publishedPort {
	for i, p := range svc.Ports {
		f := fmt.Sprintf("%s.ports[%d]", field, i)
		if p.Published == "" {
			pr.addf(f, "container port %d is published on a random host port: give the host port", p.Target)
			continue
		}
		lo, hi, err := portRange(p.Published)
		if err != nil {
			pr.add(f, err)
			continue
		}
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		for port := lo; port <= hi; port++ {
			cur := publishedPort{field: f, hostIP: p.HostIP, port: port, protocol: proto}
			for _, prev := range seen {
				if cur.overlaps(prev) {
					pr.addf(f, "published port %d/%s is also published by %s", port, proto, prev.field)
				}
			}
			seen = append(seen, cur)
		}
	}
	return seen
}

// portRange reads a published port: "8080" or "8000-8010".
func portRange(published string) (int, int, error) {
	loS, hiS, isRange := strings.Cut(published, "-")
	lo, err := strconv.Atoi(loS)
	hi := lo
	if err == nil && isRange {
		hi, err = strconv.Atoi(hiS)
	}
	if err != nil || lo < 1 || hi > 65535 || hi < lo {
		return 0, 0, fmt.Errorf("published port %q is not a port or port range", published)
	}
	return lo, hi, nil
}

func (s *stack) checkDependsOn(pr *problems, field string, svc types.ServiceConfig) {
	for _, dep := range slices.Sorted(maps.Keys(svc.DependsOn)) {
		cond := svc.DependsOn[dep].Condition
		f := field + ".depends_on." + dep
		target, ok := s.services[dep]
		if !ok {
			pr.addf(f, "no such service (services: %s)", strings.Join(s.serviceNames(), ", "))
			continue
		}
		switch cond {
		case types.ServiceConditionHealthy:
			if !hasHealthcheck(target) {
				pr.addf(f, "condition %s, but services.%s has no healthcheck", cond, dep)
			}
		case types.ServiceConditionCompletedSuccessfully:
			if r := target.Restart; r == types.RestartPolicyAlways || r == types.RestartPolicyUnlessStopped {
				pr.addf(f, "condition %s, but services.%s restarts %q, so it never completes", cond, dep, r)
			}
		case types.ServiceConditionStarted:
		default:
			pr.addf(f, "unknown condition %q", cond)
		}
	}
}

func hasHealthcheck(svc types.ServiceConfig) bool {
	h := svc.HealthCheck
	return h != nil && !h.Disable && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// checkHealthcheck requires a healthcheck of every long-running service, and one that
// probes a port the service listens on when the service is built here.
func (s *stack) checkHealthcheck(pr *problems, field string, svc types.ServiceConfig) {
	f := field + ".healthcheck"
	if !hasHealthcheck(svc) {
		if !s.oneShot(svc.Name) {
			pr.addf(f, "missing: every long-running service needs one (depends_on conditions and `docker compose ps` read it)")
		}
		return
	}
	if kind := svc.HealthCheck.Test[0]; kind != "CMD" && kind != "CMD-SHELL" {
		pr.addf(f, "test starts with %q: want CMD or CMD-SHELL", kind)
		return
	}
	if svc.Build == nil {
		return
	}
	for _, w := range strings.Fields(strings.Join(svc.HealthCheck.Test[1:], " ")) {
		rest, ok := strings.CutPrefix(w, "http://127.0.0.1:")
		if !ok {
			continue
		}
		port, _, _ := strings.Cut(rest, "/")
		if !slices.Contains(listenPorts(svc), port) {
			pr.addf(f, "probes port %s, but the command listens on %v", port, listenPorts(svc))
		}
	}
}
