package rollout

import "fmt"

// Figures renders canary against stable on one line, the way every view of
// a rollout (CLI, Temporal UI, incident report) shows a measurement.
func (m Measurement) Figures() string {
	c, s := m.Sample.Canary, m.Sample.Stable
	return fmt.Sprintf("canary %s req/s, %s err, p95 %s | stable %s req/s, %s err, p95 %s",
		c.RequestRate.Format(1, "%.1f"), c.ErrorRate.Format(100, "%.1f%%"), c.P95.Format(1000, "%.0fms"),
		s.RequestRate.Format(1, "%.1f"), s.ErrorRate.Format(100, "%.1f%%"), s.P95.Format(1000, "%.0fms"))
}

// Format renders v scaled (100 for a percentage, 1000 for milliseconds), or
// "–" when the source had no data.
func (v Value) Format(scale float64, format string) string {
	if v.Missing() {
		return "–"
	}
	return fmt.Sprintf(format, float64(v)*scale)
}
