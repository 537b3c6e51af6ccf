// Package boards defines canaryflow's Grafana dashboards in Go with the
// Grafana Foundation SDK. The JSON under dashboards/grafana is generated from
// here (go generate ./dashboards/, or make dashboards) and a test fails when
// the committed files differ, so a dashboard is reviewed as code and its
// queries are checked as code: parsed with Prometheus' parser and run
// against a real Prometheus.
package boards

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Board is one generated dashboard and the file it is committed as.
type Board struct {
	// File is the path under dashboards/grafana.
	File  string
	Build func() (dashboard.Dashboard, error)
}

// All lists every generated dashboard.
var All = []Board{
	{File: "canary-comparison.json", Build: CanaryComparison},
	{File: "rollouts-overview.json", Build: RolloutsOverview},
}

// Render builds b and returns its JSON as committed: indented, with a final
// newline, HTML characters left as they are (PromQL is full of < and >).
func Render(b Board) ([]byte, error) {
	d, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("building dashboard %s: %w", b.File, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encoding dashboard %s: %w", b.File, err)
	}
	return buf.Bytes(), nil
}

// datasourceVar is the variable every panel and query takes its Prometheus
// from, so choosing one switches all of them.
const datasourceVar = "datasource"

func promDS() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + datasourceVar + "}")}
}

// builtInAnnotations is Grafana's own annotations and alerts layer, which
// Grafana adds to any dashboard it saves.
func builtInAnnotations() *dashboard.AnnotationQueryBuilder {
	return dashboard.NewAnnotationQueryBuilder().Name("Annotations & Alerts").
		Datasource(common.DataSourceRef{Type: cog.ToPtr("grafana"), Uid: cog.ToPtr("-- Grafana --")}).
		Enable(true).Hide(true).IconColor("rgba(0, 211, 255, 1)").Type("dashboard").BuiltIn(1)
}

func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder(datasourceVar).
		Label("Prometheus").
		Type("prometheus")
}

// query is a range query (a time series panel).
func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(promDS()).Expr(expr).LegendFormat(legend).Range()
}

// instant is an instant query (a stat or gauge panel).
func instant(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(promDS()).Expr(expr).LegendFormat(legend).Instant()
}

func pos(x, y, w, h uint32) dashboard.GridPos {
	return dashboard.GridPos{X: x, Y: y, W: w, H: h}
}

// thresholds builds absolute thresholds: a base colour, then (value, colour)
// steps.
func thresholds(base string, steps ...any) *dashboard.ThresholdsConfigBuilder {
	ts := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		v := toFloat(steps[i])
		ts = append(ts, dashboard.Threshold{Value: &v, Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	}
	panic(fmt.Sprintf("threshold value %v is not a number", v))
}

// fixedColor is the override property that paints a series one colour.
func fixedColor(c string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": c}}
}

func legend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(true).Calcs([]string{})
}

func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone)
}

func lastValue() *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false).Fields("")
}

// valueText maps a stat's value to a text and colour.
func valueText(m map[string]dashboard.ValueMappingResult) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: m}}}
}

func mapped(text, color string, index int32) dashboard.ValueMappingResult {
	return dashboard.ValueMappingResult{Text: &text, Color: &color, Index: &index}
}
