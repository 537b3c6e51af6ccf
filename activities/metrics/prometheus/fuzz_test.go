package prometheus

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/rollout"
)

// The Prometheus server is not a dependency of this module, so the queries
// are checked against the rules of its PromQL lexer instead of its parser
// (promql/parser/lex.go): a selector is '{', matchers `name op "string"`
// separated by commas, '}'; a double-quoted string ends at the first
// unescaped '"', may not hold a newline or a U+FFFD rune (the lexer reads
// that as invalid UTF-8), and knows Go's escapes, which it unquotes as
// strconv.Unquote does.
var (
	fuzzMetricRe    = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	fuzzLabelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// FuzzQueries builds every query canaryflow sends to Prometheus — the rate
// figures, the counts, Check's series selectors and the custom metrics'
// queries (checkCustom: a fixed template, and metric read as a template,
// with app and value2 as the app and namespace) — from arbitrary label
// names and values, app and metric. Either the input is refused with
// ErrPermanent (exactly when a name or value is one Prometheus would read
// as something else), or every query lexes as PromQL, each value the spec
// gave is one string literal that reads back as exactly that value, and the
// query has the same shape as with harmless values: a value can never
// change what a query means.
func FuzzQueries(f *testing.F) {
	type seed struct {
		metric, name1, value1, name2, value2, app string
		window                                    int64
	}
	for _, s := range []seed{
		{rollout.DefaultMetric, "route", "/api/users", "namespace", "production", "shop", int64(time.Minute)},
		{"http_request_duration_seconds", "", "", "", "", "", 0},
		{"ns:job:rate5m", "job", "demo", "job", "other", "", int64(90 * time.Second)},
		// Values that would close the string and inject PromQL.
		{"m", "route", `"} or vector(1) #`, "x", `\`, "shop", int64(time.Minute)},
		{"m", "a", `a\"b`, "b", "x`y'z", "", int64(time.Second)},
		{"m", "a", "line\nbreak\r\t\v\f\a\b", "b", "\x00\x1f\x7f", "shop", 1},
		{"m", "a", `\u0022`, "b", `\x22\042`, "", -1},
		// Unicode: multi-byte, combining, right-to-left, the replacement
		// character, a lone surrogate's encoding, invalid UTF-8.
		{"m", "city", "Zürich ёлка 東京", "mark", "e\u0301\u202eevil", "shop", int64(time.Minute)},
		{"m", "a", "\uFFFD", "b", "ok", "", int64(time.Minute)},
		{"m", "a", "\xed\xa0\x80", "b", "\xff", "", int64(time.Minute)},
		{"m", "a", "\U0010FFFF\u2028\u00ad", "b", "\ufeff", "shop", int64(time.Minute)},
		// Names Prometheus would read as something else, or that the queries own.
		{"m", `a="1"}`, "x", "", "", "", int64(time.Minute)},
		{"m", "__name__", "x", "", "", "", int64(time.Minute)},
		{"m", "version", "canary", "code", "200", "", int64(time.Minute)},
		{"m", "le", "1", "app", "", "shop", int64(time.Minute)},
		{"m", "ü", "x", "1a", "y", "", int64(time.Minute)},
		{`up{x="1"} or vector(1)`, "", "", "", "", "", int64(time.Minute)},
		{"a b", "", "", "", "", "", int64(time.Minute)},
		{"", "", "", "", "", "", int64(time.Minute)},
		{"m", "app", `shop"}`, "", "", `shop"} or vector(1) #`, int64(time.Minute)},
		// Oversized and NaN-ish windows and values.
		{strings.Repeat("m", 4096), "a", strings.Repeat(`"\`, 2048), "b", "NaN", "", 1<<63 - 1},
		{"m", "a", "+Inf", "b", "-0", "", -1 << 63},
	} {
		f.Add(s.metric, s.name1, s.value1, s.name2, s.value2, s.app, s.window)
	}
	for _, tmpl := range customSeeds {
		f.Add(tmpl, "", "", "ns", `prod"} or vector(1) #`, `shop\"}`, int64(time.Minute))
	}

	f.Fuzz(func(t *testing.T, metric, name1, value1, name2, value2, app string, window int64) {
		labels := map[string]string{}
		if name1 != "" || value1 != "" {
			labels[name1] = value1
		}
		if name2 != "" || value2 != "" {
			labels[name2] = value2
		}
		labels = withApp(labels, app)
		p := rollout.PrometheusMetrics{Metric: metric, Labels: labels}
		refuse := refusal(metric, labels)
		d := time.Duration(window)

		queries, err := buildQueries(p, d)
		checkBuilt(t, "rate", p, refuse, queries, err, func(neutral rollout.PrometheusMetrics) (map[string]string, error) {
			return buildQueries(neutral, d)
		})
		counts, err := buildCountQueries(p, rangeOf(d))
		checkBuilt(t, "counts", p, refuse, counts, err, func(neutral rollout.PrometheusMetrics) (map[string]string, error) {
			return buildCountQueries(neutral, rangeOf(d))
		})
		checkCustom(t, app, value2, metric, d)

		// Check's selectors: the spec's labels only (refused like the
		// queries, but a bad metric is the caller's to check).
		refuseLabels := refusal("m", labels)
		for _, versioned := range []bool{false, true} {
			sel, err := seriesMatcher("m_count", labels, versioned)
			if refuseLabels != "" {
				require.Error(t, err, "series selector: %s", refuseLabels)
				require.ErrorIs(t, err, rollout.ErrPermanent)
				continue
			}
			require.NoError(t, err)
			skel, sels, err := lexQuery(sel)
			require.NoError(t, err, "series selector %s", sel)
			require.Equal(t, "m_count{}", skel)
			require.Len(t, sels, 1)
			want := expectedMatchers("", labels)
			if versioned {
				want = append([]matcher{{"version", "=~", "stable|canary"}}, want...)
			}
			require.Equal(t, want, sels[0], "series selector %s", sel)
		}
	})
}

// refusal says why canaryflow must refuse the metric and labels (by the
// rules stated independently here), or "" when it must build queries.
func refusal(metric string, labels map[string]string) string {
	if !fuzzMetricRe.MatchString(metric) {
		return fmt.Sprintf("metric %q is not a metric name", metric)
	}
	for name, value := range labels {
		switch {
		case !fuzzLabelNameRe.MatchString(name) || strings.HasPrefix(name, "__"):
			return fmt.Sprintf("label %q is not a label name", name)
		case name == "version" || name == "code" || name == "le":
			return fmt.Sprintf("label %q is one the queries set", name)
		case !utf8.ValidString(value):
			return fmt.Sprintf("label %s's value %q is not UTF-8", name, value)
		}
	}
	return ""
}

// checkBuilt checks one family of queries built from p: refused with
// ErrPermanent exactly when refuse says so; otherwise every query lexes,
// holds p's values as literals that read back exactly, and has the shape of
// the same queries built with harmless values.
func checkBuilt(t *testing.T, family string, p rollout.PrometheusMetrics, refuse string,
	queries map[string]string, err error, build func(rollout.PrometheusMetrics) (map[string]string, error)) {
	t.Helper()
	if refuse != "" {
		require.Error(t, err, "%s queries: %s", family, refuse)
		require.True(t, errors.Is(err, rollout.ErrPermanent), "%s queries: refused as permanent: %v", family, err)
		require.Nil(t, queries)
		return
	}
	require.NoError(t, err, "%s queries", family)
	neutral := p
	neutral.Labels = map[string]string{}
	for name := range p.Labels {
		neutral.Labels[name] = "v"
	}
	harmless, err := build(neutral)
	require.NoError(t, err)
	require.Equal(t, slices.Sorted(maps.Keys(harmless)), slices.Sorted(maps.Keys(queries)))

	for key, q := range queries {
		skel, sels, err := lexQuery(q)
		require.NoError(t, err, "%s: %s", key, q)
		wantSkel, _, err := lexQuery(harmless[key])
		require.NoError(t, err, "%s: %s", key, harmless[key])
		require.Equal(t, wantSkel, skel, "%s: the values change the query's shape: %s", key, q)
		require.NotEmpty(t, sels, "%s: %s", key, q)

		role, _, _ := strings.Cut(key, ".")
		want := expectedMatchers(role, p.Labels)
		for _, sel := range sels {
			if n := len(sel); n > 0 && sel[n-1] == (matcher{"code", "=~", "5.."}) {
				sel = sel[:n-1]
			}
			require.Equal(t, want, sel, "%s: %s", key, q)
		}
	}
}

// matcher is one `name op "value"` of a selector, the value unquoted.
type matcher struct {
	name, op, value string
}

// expectedMatchers is what a selector must hold for role ("" for none):
// the version first, then the labels sorted by name.
func expectedMatchers(role string, labels map[string]string) []matcher {
	out := []matcher{}
	if role != "" {
		out = append(out, matcher{"version", "=", role})
	}
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		out = append(out, matcher{name, "=", labels[name]})
	}
	return out
}

// lexQuery reads q as the PromQL lexer would, as far as selectors go: it
// returns q with each selector's contents cut out ("m{}"), and the
// selectors' matchers. Outside braces, quotes of any kind and comments are
// refused: canaryflow's queries have none there, so one can only come from
// a value that escaped its literal.
func lexQuery(q string) (skeleton string, selectors [][]matcher, err error) {
	var b strings.Builder
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '"' || c == '\'' || c == '`' || c == '#':
			return "", nil, fmt.Errorf("%q outside a selector at %d", c, i)
		case c == '}':
			return "", nil, fmt.Errorf("unbalanced '}' at %d", i)
		case c == '{':
			sel, end, err := lexSelector(q, i+1)
			if err != nil {
				return "", nil, err
			}
			selectors = append(selectors, sel)
			b.WriteString("{}")
			i = end
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), selectors, nil
}

// lexSelector reads matchers from q[i:] up to and including the closing
// brace, and returns the index after it.
func lexSelector(q string, i int) ([]matcher, int, error) {
	out := []matcher{}
	for {
		if i < len(q) && q[i] == '}' && len(out) == 0 {
			return out, i + 1, nil
		}
		start := i
		for i < len(q) && (q[i] == '_' || q[i] >= 'a' && q[i] <= 'z' || q[i] >= 'A' && q[i] <= 'Z' || i > start && q[i] >= '0' && q[i] <= '9') {
			i++
		}
		if i == start {
			return nil, 0, fmt.Errorf("no label name at %d", i)
		}
		m := matcher{name: q[start:i]}
		switch {
		case strings.HasPrefix(q[i:], "=~"), strings.HasPrefix(q[i:], "!~"), strings.HasPrefix(q[i:], "!="):
			m.op = q[i : i+2]
		case strings.HasPrefix(q[i:], "="):
			m.op = "="
		default:
			return nil, 0, fmt.Errorf("no operator at %d", i)
		}
		i += len(m.op)
		if i >= len(q) || q[i] != '"' {
			return nil, 0, fmt.Errorf("no string at %d", i)
		}
		end, err := lexString(q, i+1)
		if err != nil {
			return nil, 0, err
		}
		v, err := strconv.Unquote(q[i:end])
		if err != nil {
			return nil, 0, fmt.Errorf("string %s at %d does not unquote: %w", q[i:end], i, err)
		}
		m.value = v
		out = append(out, m)
		i = end
		switch {
		case i < len(q) && q[i] == ',':
			i++
		case i < len(q) && q[i] == '}':
			return out, i + 1, nil
		default:
			return nil, 0, fmt.Errorf("no ',' or '}' after a matcher at %d", i)
		}
	}
}

// lexString follows promql/parser/lex.go's lexString and lexEscape from
// q[i:], just after an opening '"', and returns the index after the
// closing one.
func lexString(q string, i int) (int, error) {
	for i < len(q) {
		r, w := utf8.DecodeRuneInString(q[i:])
		i += w
		switch r {
		case '"':
			return i, nil
		case '\n':
			return 0, errors.New("newline in a string")
		case utf8.RuneError:
			return 0, fmt.Errorf("U+FFFD or invalid UTF-8 in a string at %d (the lexer refuses both)", i-w)
		case '\\':
			n, err := lexEscape(q, i)
			if err != nil {
				return 0, err
			}
			i = n
		}
	}
	return 0, errors.New("unterminated string")
}

func lexEscape(q string, i int) (int, error) {
	if i >= len(q) {
		return 0, errors.New("escape sequence not terminated")
	}
	var digits, base int
	var most uint64
	switch c := q[i]; c {
	case 'a', 'b', 'f', 'n', 'r', 't', 'v', '\\', '"':
		return i + 1, nil
	case '0', '1', '2', '3', '4', '5', '6', '7':
		digits, base, most = 3, 8, 255
	case 'x':
		digits, base, most, i = 2, 16, 255, i+1
	case 'u':
		digits, base, most, i = 4, 16, unicode.MaxRune, i+1
	case 'U':
		digits, base, most, i = 8, 16, unicode.MaxRune, i+1
	default:
		return 0, fmt.Errorf("unknown escape sequence \\%c", c)
	}
	if i+digits > len(q) {
		return 0, errors.New("escape sequence not terminated")
	}
	x, err := strconv.ParseUint(q[i:i+digits], base, 64)
	if err != nil || x > most || 0xD800 <= x && x < 0xE000 {
		return 0, fmt.Errorf("invalid escape sequence %q", q[i-1:i+digits])
	}
	return i + digits, nil
}

func TestLexQueryRefusesWhatPrometheusRefuses(t *testing.T) {
	for _, q := range []string{
		`m{a="x"} or vector(1) # "}`,
		`m{a="x\"}`,
		"m{a=\"x\ny\"}",
		"m{a=\"\uFFFD\"}",
		"m{a=\"\xff\"}",
		`m{a="\ud800"}`,
		`m{a="\q"}`,
		`m{a='x'}`,
		`m{a="x"`,
		`m{a="x"}}`,
	} {
		_, _, err := lexQuery(q)
		assert.Error(t, err, q)
	}
	skel, sels, err := lexQuery(`sum(m{version="canary",a="\"} or \\ \u00e9\x41\101"}[1s])`)
	require.NoError(t, err)
	assert.Equal(t, "sum(m{}[1s])", skel)
	assert.Equal(t, [][]matcher{{{"version", "=", "canary"}, {"a", "=", `"} or \ éAA`}}}, sels)
}
