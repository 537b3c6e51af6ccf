package sim

// Tunings are alternative judge configurations, shown beside the default
// one to see what changing its exported knobs would do. They are
// experiments for the lead to weigh, not settings the workflow uses: the
// mixing variance (tau²) and the smoothing are not exported and cannot be
// tried from here.
func Tunings(p Plan) []Variant {
	fast := p.JudgeConfig()
	fast.Alpha = 0.05 // false rollbacks allowed over a rollout: 5 % instead of 1 %
	strict := p.JudgeConfig()
	strict.PassConfidence = 0.99 // a pass needs a 99 % upper bound within the limit
	return []Variant{
		{Name: "tuning: judge α 5 %", Config: fast},
		{Name: "tuning: judge pass 99 %", Config: strict},
	}
}
