package sim

// Tunings are alternative judge configurations, shown beside the default
// one to see what changing its knobs would do. They are experiments for
// the lead to weigh, not settings the workflow uses.
func Tunings(p Plan) []Variant {
	fast := p.JudgeConfig()
	fast.Alpha = 0.05 // false rollbacks allowed over a rollout: 5 % instead of 1 %
	strict := p.JudgeConfig()
	strict.PassConfidence = 0.99 // a pass needs a 99 % upper bound within the limit
	tight := p.JudgeConfig()
	tight.Tolerance = 0.67 // protect canaries up to +2 points and × 1.33
	return []Variant{
		{Name: "tuning: judge α 5 %", Config: fast},
		{Name: "tuning: judge pass 99 %", Config: strict},
		{Name: "tuning: tolerance 0.67", Config: tight},
		{Name: "judge revision 2 (no recent look)", Config: p.Revision2Config()},
		{Name: "judge revision 1 (as first shipped)", Config: p.Revision1Config()},
	}
}
