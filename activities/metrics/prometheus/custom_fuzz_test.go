package prometheus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// fixedTemplate uses every placeholder, each where it may stand.
const fixedTemplate = `sum(rate(m_count{app="{{app}}",namespace="{{namespace}}",version="{{version}}"}[{{window}}]))` +
	` / sum(rate(m_count{app="{{app}}"}[{{window}}]))`

// customSeeds are templates FuzzQueries also tries as custom queries (it
// passes its metric argument as one).
var customSeeds = []string{
	fixedTemplate,
	`x{a="{{app}}"} # "{{`,
	`x{a='{{app}}'}`,
	"x{a=`{{namespace}}`} or y{b=\"{{ namespace }}\"}",
	`x{a="\"{{version}}\\"} offset {{window}}`,
	`x{a="{{app}}`,
	`{{window}}"{{app}}"`,
}

// checkCustom builds custom queries for app and namespace from the fixed
// template and from tmpl (a fuzzed template). Either a metric is refused
// with the reason in its Err (exactly when the template is not one
// ParseQueryTemplate accepts, or a value it uses is not UTF-8), or its
// queries hold the values as string literals that read back exactly, and
// have the shape (everything outside strings and comments) of the same
// template expanded with harmless values: a value never changes what a
// custom query means.
func checkCustom(t *testing.T, app, namespace, tmpl string, window time.Duration) {
	t.Helper()
	spec := func(app, namespace string) rollout.Spec {
		return rollout.Spec{App: app, Namespace: namespace, Analysis: rollout.Analysis{Metrics: []rollout.CustomMetric{
			{Name: "fixed", Query: fixedTemplate}, {Name: "fuzzed", Query: tmpl},
		}}}
	}
	got := buildCustomQueries(spec(app, namespace), window)
	harmless := buildCustomQueries(spec("v", "v"), window)
	require.Len(t, got, 2)

	fixed := got[0]
	if !utf8.ValidString(app) || !utf8.ValidString(namespace) {
		require.NotEmpty(t, fixed.Err, "app %q, namespace %q are not UTF-8", app, namespace)
		require.Empty(t, fixed.Values)
	} else {
		require.Empty(t, fixed.Err)
		require.Len(t, fixed.Values, 2)
		rng := rangeOf(window)
		for i, role := range []string{"canary", "stable"} {
			v := fixed.Values[i]
			require.Equal(t, role, v.Version)
			skel, sels, err := lexQuery(v.Query)
			require.NoError(t, err, v.Query)
			require.Equal(t, fmt.Sprintf("sum(rate(m_count{}[%s])) / sum(rate(m_count{}[%s]))", rng, rng), skel)
			require.Equal(t, [][]matcher{
				{{"app", "=", app}, {"namespace", "=", namespace}, {"version", "=", role}},
				{{"app", "=", app}},
			}, sels, v.Query)
		}
	}

	fuzzed, neutral := got[1], harmless[1]
	parsed, perr := rollout.ParseQueryTemplate(tmpl)
	switch {
	case perr != nil || len(tmpl) > rollout.MaxCustomQueryLen:
		require.NotEmpty(t, fuzzed.Err, "template %q must be refused", tmpl)
		require.Empty(t, fuzzed.Values)
		return
	case parsed.Uses(rollout.PlaceholderApp) && !utf8.ValidString(app),
		parsed.Uses(rollout.PlaceholderNamespace) && !utf8.ValidString(namespace):
		require.NotEmpty(t, fuzzed.Err)
		return
	}
	require.Empty(t, fuzzed.Err, "template %q", tmpl)
	require.Empty(t, neutral.Err)
	require.Len(t, fuzzed.Values, len(neutral.Values))
	for i, v := range fuzzed.Values {
		want, err := shape(neutral.Values[i].Query)
		if err != nil {
			continue // the template itself is not PromQL; values cannot make it so
		}
		got, err := shape(v.Query)
		require.NoError(t, err, "template %q with app %q, namespace %q: %s", tmpl, app, namespace, v.Query)
		require.Equal(t, want, got, "the values change the query's shape: %s", v.Query)
	}
}

// shape is q with the contents of its strings and comments cut out, read
// as PromQL's lexer reads them; double-quoted strings must lex and
// unquote.
func shape(q string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(q); {
		switch c := q[i]; c {
		case '"':
			end, err := lexString(q, i+1)
			if err != nil {
				return "", err
			}
			if _, err := strconv.Unquote(q[i:end]); err != nil {
				return "", err
			}
			b.WriteString(`""`)
			i = end
		case '\'':
			j := i + 1
			for ; j < len(q) && q[j] != '\''; j++ {
				if q[j] == '\\' {
					j++
				}
			}
			if j >= len(q) {
				return "", errors.New("unterminated single-quoted string")
			}
			b.WriteString("''")
			i = j + 1
		case '`':
			j := strings.IndexByte(q[i+1:], '`')
			if j < 0 {
				return "", errors.New("unterminated raw string")
			}
			b.WriteString("``")
			i += j + 2
		case '#':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i - 1
			}
			b.WriteString("#\n")
			i += j + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), nil
}
