package latency

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canaryflow/canaryflow/demo/stack"
	"github.com/canaryflow/canaryflow/internal/devstack"
)

// runs is how many rollouts each figure is taken over.
var runs = flag.Int("runs", 20, "rollouts per figure (p95 and p99 need many; 20 is the issue's count)")

var engine *stack.Engine

// TestMain builds the worker, demoapp and router fresh and starts one
// engine for every benchmark, as `make demo` does; without -bench there is
// nothing to run and nothing is started, so `go test ./...` stays cheap.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "canaryflow-latency-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "../../worker", "../cmd/demoapp", "../cmd/router")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "latency: building binaries:", err)
		return 1
	}
	tools, err := devstack.BinDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	engine, err = stack.StartEngine(ctx, stack.EngineOptions{ToolsDir: tools, BinDir: bin, WorkDir: filepath.Join(dir, "work")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency: starting the engine:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "latency: worker log tail:\n%s\n", engine.WorkerLog())
	}
	engine.Stop()
	return code
}

// loadAverage is the machine's 1-minute load average, printed beside every
// figure: on a small shared machine it explains most of the spread.
func loadAverage() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, err := strconv.ParseFloat(strings.Fields(string(raw))[0], 64)
	if err != nil {
		return -1
	}
	return f
}

// loadRange tracks the lowest and highest load average seen over a figure's runs.
type loadRange struct{ lo, hi float64 }

func (l *loadRange) sample() {
	v := loadAverage()
	if l.lo == 0 && l.hi == 0 {
		l.lo, l.hi = v, v
		return
	}
	l.lo, l.hi = min(l.lo, v), max(l.hi, v)
}

func (l loadRange) String() string { return fmt.Sprintf("load avg %.2f–%.2f", l.lo, l.hi) }

// quantile is the nearest-rank quantile of ds (q in 0..1): with 20 runs,
// p95 is the 19th value and p99 the largest.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// secs renders d in seconds with millisecond precision, the tables' unit.
func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// ms renders d in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
