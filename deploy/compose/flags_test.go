package compose

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flagDefiners are the methods and functions of package flag and of pflag (which cobra
// commands use) that define a flag; the flag's name is their first string-literal argument,
// and for pflag's ...P variants the second is the one-letter shorthand.
var flagDefiners = []string{
	"Bool", "BoolVar", "BoolFunc", "Duration", "DurationVar", "Float64", "Float64Var", "Func",
	"Int", "IntVar", "Int64", "Int64Var", "String", "StringVar", "StringSlice", "StringSliceVar",
	"TextVar", "Uint", "UintVar", "Uint64", "Uint64Var", "Var",
}

// definedFlags reads the flag names a main package defines, from its source: calls such as
// fs.String("addr", ...), flag.Var(&h, "header", ...) or
// cmd.Flags().StringVarP(&file, "file", "f", ...), which defines both file and f.
func definedFlags(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err, "parsing %s", f)
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			method, shorthand := strings.CutSuffix(sel.Sel.Name, "P")
			if !slices.Contains(flagDefiners, method) {
				return true
			}
			want := 1
			if shorthand {
				want = 2
			}
			for _, a := range call.Args {
				lit, ok := a.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING || want == 0 {
					continue
				}
				if name, err := strconv.Unquote(lit.Value); err == nil {
					names = append(names, name)
				}
				want--
			}
			return true
		})
	}
	return names
}

// usedFlags are the flag names in a command line: --name, -name, --name=value.
func usedFlags(list []string) []string {
	var names []string
	for _, a := range list {
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		names = append(names, name)
	}
	return names
}

// TestComposeCommandsUseFlagsTheBinariesDefine keeps the compose commands in step with the
// binaries: a renamed or removed flag would otherwise surface only when a container exits at
// start-up. Each built service's binary is the Dockerfile target's name; its source is the
// package the Dockerfile's go build names with that last element.
func TestComposeCommandsUseFlagsTheBinariesDefine(t *testing.T) {
	s := checked(t)
	d := s.dockerfiles[filepath.Join(s.root, "deploy", "docker", "Dockerfile")]
	require.NotNil(t, d)
	pkgs := map[string]string{}
	for _, p := range d.goBuildPackages() {
		pkgs[path.Base(p)] = filepath.Join(s.root, filepath.FromSlash(p))
	}
	checkedServices := 0
	for _, name := range s.serviceNames() {
		svc := s.services[name]
		if svc.Build == nil {
			continue
		}
		dir, ok := pkgs[svc.Build.Target]
		require.True(t, ok, "services.%s: target %s is built from a package of the Dockerfile's go build", name, svc.Build.Target)
		defined := definedFlags(t, dir)
		require.NotEmpty(t, defined, "flags of %s", dir)
		used := usedFlags(svc.Command)
		require.NotEmpty(t, used, "services.%s passes flags", name)
		for _, f := range used {
			assert.Contains(t, defined, f, "services.%s.command passes --%s, which %s does not define", name, f, dir)
		}
		checkedServices++
	}
	assert.Equal(t, 6, checkedServices, "worker, starter, stable, canary, router and load")
}

func TestUsedFlagsReadsEveryForm(t *testing.T) {
	assert.Equal(t, []string{"f", "wait", "addr", "rps"},
		usedFlags([]string{"start", "-f", "/specs/compose.yaml", "--wait", "--addr=:8081", "-rps=20", "-", "--"}))
}

// TestDefinedFlagsSeesWhatTheBinariesDefine shows the source reading is not vacuous: the
// flags the compose file relies on are found, in both the flag and the pflag styles, and a
// near miss is not.
func TestDefinedFlagsSeesWhatTheBinariesDefine(t *testing.T) {
	root := repoRoot(t)
	worker := definedFlags(t, filepath.Join(root, "worker"))
	for _, f := range []string{"metrics-address", "dry-run-providers", "no-kube", "scrape-interval", "prometheus-url", "incident-dir", "state-dir"} {
		assert.Contains(t, worker, f)
	}
	assert.NotContains(t, worker, "dry-run-provider")
	starter := definedFlags(t, filepath.Join(root, "starter"))
	for _, f := range []string{"file", "f", "wait"} {
		assert.Contains(t, starter, f)
	}
	assert.Contains(t, definedFlags(t, filepath.Join(root, "demo", "cmd", "loadgen")), "target")
}
