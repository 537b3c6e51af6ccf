// Package devstack starts the real servers canaryflow's tests and `make demo`
// run against (the Temporal dev server, Prometheus) as child processes on
// 127.0.0.1, and stops them. Each server runs in its own process group so
// Stop reliably takes down everything it started, and on Linux the kernel
// kills it if the parent dies first, so a crashed or timed-out test run
// never leaves servers holding ports and CPU behind.
//
// The binaries come from the repository's bin/ directory, filled by
// `make tools`; see BinDir.
package devstack

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the module whose root holds bin/; BinDir looks for its go.mod.
const ModulePath = "github.com/canaryflow/canaryflow"

// EnvBin names the environment variable that overrides BinDir, for running
// outside the repository (an installed demo, CI with prebuilt tools).
const EnvBin = "CANARYFLOW_BIN"

// ErrMissingBinary is wrapped when a server binary is absent, so callers can
// tell "tools not installed" from a server that failed to start.
var ErrMissingBinary = errors.New("server binary missing (run `make tools`)")

// BinDir returns the directory holding the server binaries: $CANARYFLOW_BIN
// when set, else bin/ at the root of the canaryflow module found by walking
// up from the working directory (tests run in their package's directory).
func BinDir() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", fmt.Errorf("resolving %s=%q: %w", EnvBin, dir, err)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the working directory: %w", err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

// moduleRoot walks up from dir to the directory whose go.mod declares
// ModulePath. Nested modules (tools/temporal has its own go.mod) are skipped.
func moduleRoot(dir string) (string, error) {
	for d := dir; ; {
		mod, err := modulePath(filepath.Join(d, "go.mod"))
		if err != nil {
			return "", err
		}
		if mod == ModulePath {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod for module %s above %s: run from inside the repository or set %s", ModulePath, dir, EnvBin)
		}
		d = parent
	}
}

// modulePath reads the module line of a go.mod; a missing file yields "".
func modulePath(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", gomod, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading %s: %w", gomod, err)
	}
	return "", nil
}

// Binary returns the path of the named server binary in dir (BinDir when dir
// is empty). A missing or non-executable file yields an error wrapping
// ErrMissingBinary that tells the user how to install it.
func Binary(dir, name string) (string, error) {
	if dir == "" {
		var err error
		if dir, err = BinDir(); err != nil {
			return "", fmt.Errorf("locating %s: %w", name, err)
		}
	}
	path := filepath.Join(dir, name)
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s not found at %s (%v): %w", name, path, err, ErrMissingBinary)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%s at %s is not an executable file: %w", name, path, ErrMissingBinary)
	}
	return path, nil
}
