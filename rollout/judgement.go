package rollout

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
}

// JudgeState is what sequential judgement carries from look to look (and
// across continue-as-new, inside Status): the running minimum p-value of
// each rule at the current weight.
type JudgeState struct {
	Weight int                `json:"weight"`
	Looks  int                `json:"looks"`
	MinP   map[string]float64 `json:"minP,omitempty"`
}
