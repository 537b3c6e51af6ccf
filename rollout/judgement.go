package rollout

// Rule names, as status, reports and analysis.judging name them. They live
// here, not in package analysis, so that validation can check a spec's
// critical rules and per-rule limits without importing the judge.
const (
	RuleErrorRate     = "error-rate"
	RuleErrorIncrease = "error-increase"
	RuleP95           = "p95"
	RuleLatencyRatio  = "p95-ratio"
)

// RuleNames are the rules a spec may name, in the order they are judged.
var RuleNames = []string{RuleErrorRate, RuleErrorIncrease, RuleP95, RuleLatencyRatio}

// RuleResult is one rule's judgement at one look, everything a person needs
// to check it: the estimate with its confidence bounds, the always-valid
// p-value the decision used, and a one-line reason.
type RuleResult struct {
	Rule string `json:"rule"`
	// Estimate is the rule's figure (a rate, a difference, a share) and Lo,
	// Hi its confidence bounds; Limit is the threshold it is judged against.
	Estimate Value `json:"estimate"`
	Lo       Value `json:"lo"`
	Hi       Value `json:"hi"`
	Limit    Value `json:"limit"`
	// P is the always-valid p-value that the rule is broken (running minimum
	// over this weight's looks); Alpha is what it is compared with.
	P       Value   `json:"p"`
	Alpha   Value   `json:"alpha"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// Critical rules fail the measurement whatever the score.
	Critical bool `json:"critical,omitempty"`
	// Canary and Stable are the counts the estimate rests on, pooled over
	// the looks the rule judges: errors of requests for the error rules,
	// requests slower than the rule's latency of those timed for the
	// latency rules (for p95-ratio, stable's slower than its own p95). Nil
	// where the rule counts nothing of that version, and for custom metrics.
	Canary *Observed `json:"canary,omitempty"`
	Stable *Observed `json:"stable,omitempty"`
	// Window is set when the last analysis window alone failed the rule
	// (judge revision 3's recent look): the figures above are that
	// window's, and P is null (the decision rests on the lower bound).
	Window Duration `json:"window,omitempty"`
}

// Observed is a count of events (errors, slow requests) out of a total, the
// raw figures behind a rate, so a reader sees how much data a verdict rests on.
// Its fields are Values so that a count that could not be formed travels
// as null rather than failing the status query's JSON.
type Observed struct {
	Events Value `json:"events"`
	Total  Value `json:"total"`
}

// String reads "4/60", with "–" for a missing count.
func (o Observed) String() string {
	return o.Events.Format(1, "%.0f") + "/" + o.Total.Format(1, "%.0f")
}

// JudgeState is what sequential judgement carries from look to look (and
// across continue-as-new, inside Status): the running minimum p-value of
// each rule, and from judge revision 2 on the counts of the weights already
// left (each rule is one test across the rollout) and the limit counters.
// One struct, so that a continued run resumes exactly where it stopped.
type JudgeState struct {
	Weight int                `json:"weight"`
	Looks  int                `json:"looks"`
	MinP   map[string]float64 `json:"minP,omitempty"`
	// Earlier are the counts of the weights before the current one, pooled;
	// Latest the current weight's counts at its last look (added to Earlier
	// when the weight changes). Revision 2 only.
	Earlier *Counts `json:"earlier,omitempty"`
	Latest  *Counts `json:"latest,omitempty"`
	// Tally counts measurements toward the limits. Revision 2 only.
	Tally *Tally `json:"tally,omitempty"`
	// RecentLooks counts the looks that judged the last window alone,
	// against the plan's budget of them. Revision 3 only.
	RecentLooks int `json:"recentLooks,omitempty"`
	// Revision is the judge revision that took the looks, from revision 3
	// on (0: revision 1 or 2, or no look yet), so a rollout that continues
	// as new under newer code keeps the judgement it started with.
	Revision int `json:"revision,omitempty"`
}

// Tally counts looks toward analysis.limits and each rule's own limits
// (analysis.judging.rules).
type Tally struct {
	// ErrorsInARow are measurements that could not be taken (a query
	// failed), in a row: the queries are taken together, so this one is
	// counted per measurement, not per rule.
	ErrorsInARow int `json:"errorsInARow,omitempty"`
	// Rules are each rule's own counters, by rule name.
	Rules map[string]RuleTally `json:"rules,omitempty"`
}

// RuleTally is one rule's counters: looks at which it failed, in all, and
// looks at which it was undecided, in a row.
type RuleTally struct {
	Failures     int `json:"failures,omitempty"`
	Inconclusive int `json:"inconclusive,omitempty"`
}
