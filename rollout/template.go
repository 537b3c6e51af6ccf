package rollout

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Placeholders a custom metric's query may use, written {{app}}. The
// values are the spec's app and namespace, the version label of the series
// being asked about (canary or stable) and the analysis window as a PromQL
// range ("60s").
const (
	PlaceholderApp       = "app"
	PlaceholderNamespace = "namespace"
	PlaceholderVersion   = "version"
	PlaceholderWindow    = "window"
)

// Placeholders are the names a query template may use.
var Placeholders = []string{PlaceholderApp, PlaceholderNamespace, PlaceholderVersion, PlaceholderWindow}

// QueryTemplate is a custom metric's PromQL with its placeholders found.
// Where each may stand is checked, because that is what makes substituting
// a value safe: app, namespace and version only inside a double-quoted
// PromQL string (`app="{{app}}"`), where the value is escaped as a string
// literal's content and so can never end the string; the window only
// outside strings and comments (`[{{window}}]`), where it is a duration
// canaryflow writes itself.
type QueryTemplate struct {
	parts []templatePart
}

// templatePart is literal text, or a placeholder when name is set.
type templatePart struct {
	text, name string
}

// lexer states of ParseQueryTemplate: PromQL's three string quotes and its
// line comments (promql/parser/lex.go).
const (
	inCode = iota
	inDouble
	inSingle
	inRaw
	inComment
)

var placeholderRe = regexp.MustCompile(`^\{\{([^{}]*)\}\}`)

// ParseQueryTemplate finds q's placeholders and checks where each stands,
// reading strings and comments as PromQL's lexer does. Its errors name the
// byte offset and what is allowed.
func ParseQueryTemplate(q string) (QueryTemplate, error) {
	if !utf8.ValidString(q) {
		return QueryTemplate{}, fmt.Errorf("is not valid UTF-8")
	}
	var t QueryTemplate
	state, start := inCode, 0
	for i := 0; i < len(q); {
		c := q[i]
		if strings.HasPrefix(q[i:], "{{") {
			m := placeholderRe.FindStringSubmatch(q[i:])
			if m == nil {
				return QueryTemplate{}, fmt.Errorf("at byte %d: %q opens a placeholder that is not closed with }} (placeholders: {{%s}})",
					i, trunc(q[i:min(len(q), i+16)]), strings.Join(Placeholders, "}}, {{"))
			}
			name := strings.TrimSpace(m[1])
			if err := placed(name, state, i); err != nil {
				return QueryTemplate{}, err
			}
			t.parts = append(t.parts, templatePart{text: q[start:i]}, templatePart{name: name})
			i += len(m[0])
			start = i
			continue
		}
		switch {
		case state == inCode && c == '"':
			state = inDouble
		case state == inCode && c == '\'':
			state = inSingle
		case state == inCode && c == '`':
			state = inRaw
		case state == inCode && c == '#':
			state = inComment
		case (state == inDouble || state == inSingle) && c == '\\':
			i++ // the escaped byte cannot end the string
		case state == inDouble && c == '"', state == inSingle && c == '\'', state == inRaw && c == '`', state == inComment && c == '\n':
			state = inCode
		}
		i++
	}
	switch state {
	case inDouble, inSingle, inRaw:
		return QueryTemplate{}, fmt.Errorf("has a string that is not closed")
	}
	t.parts = append(t.parts, templatePart{text: q[start:]})
	return t, nil
}

// placed refuses a placeholder that is unknown or stands where its value
// could not be made safe.
func placed(name string, state, at int) error {
	switch name {
	case PlaceholderApp, PlaceholderNamespace, PlaceholderVersion:
		if state != inDouble {
			return fmt.Errorf("at byte %d: {{%s}} must stand inside a double-quoted string, like %s=\"{{%s}}\" (its value is escaped as a PromQL string's content)",
				at, name, name, name)
		}
	case PlaceholderWindow:
		if state != inCode {
			return fmt.Errorf("at byte %d: {{window}} must stand outside strings and comments, like rate(x[{{window}}])", at)
		}
	default:
		return fmt.Errorf("at byte %d: unknown placeholder {{%s}}; the known ones are {{%s}}", at, trunc(name), strings.Join(Placeholders, "}}, {{"))
	}
	return nil
}

// Uses reports whether the template has placeholder name.
func (t QueryTemplate) Uses(name string) bool {
	for _, p := range t.parts {
		if p.name == name {
			return true
		}
	}
	return false
}

var rangeRe = regexp.MustCompile(`^[0-9]+(ms|s|m|h|d|w|y)$`)

// Expand substitutes values (by placeholder name) into the template:
// app, namespace and version through escape, which must return the value
// as the content of a double-quoted PromQL string (without the quotes);
// window as is, which must therefore be a PromQL duration such as "60s".
// A placeholder without a value, or a window that is not a duration, is an
// error rather than a query that means something else.
func (t QueryTemplate) Expand(values map[string]string, escape func(string) string) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.text)
			continue
		}
		v, ok := values[p.name]
		if !ok {
			return "", fmt.Errorf("expanding a query: no value for {{%s}}", p.name)
		}
		if p.name == PlaceholderWindow {
			if !rangeRe.MatchString(v) {
				return "", fmt.Errorf("expanding a query: window %q is not a PromQL duration", trunc(v))
			}
			b.WriteString(v)
			continue
		}
		b.WriteString(escape(v))
	}
	return b.String(), nil
}
