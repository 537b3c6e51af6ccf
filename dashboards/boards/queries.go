package boards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Query is one panel target's PromQL, with Grafana's variables replaced.
type Query struct {
	Panel string
	RefID string
	Expr  string
}

// grafanaVar matches $name, ${name} and ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// Queries lists every panel query of d with its variables replaced by vars,
// as Grafana does for one selected value, so tests run exactly what a
// dashboard would against a real Prometheus. A variable vars lacks is an
// error naming it.
func Queries(d dashboard.Dashboard, vars map[string]string) ([]Query, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding the dashboard: %w", err)
	}
	var model struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &model); err != nil {
		return nil, fmt.Errorf("reading the dashboard's panels: %w", err)
	}
	var out []Query
	var missing []string
	for _, p := range model.Panels {
		for _, tg := range p.Targets {
			expr := grafanaVar.ReplaceAllStringFunc(tg.Expr, func(ref string) string {
				m := grafanaVar.FindStringSubmatch(ref)
				if v, ok := vars[m[1]+m[2]]; ok {
					return v
				}
				if name := m[1] + m[2]; !slices.Contains(missing, name) {
					missing = append(missing, name)
				}
				return ref
			})
			out = append(out, Query{Panel: p.Title, RefID: tg.RefID, Expr: expr})
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("the dashboard's queries use variables with no value: %s", strings.Join(missing, ", "))
	}
	return out, nil
}
