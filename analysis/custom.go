package analysis

import (
	"slices"

	"github.com/canaryflow/canaryflow/rollout"
)

// WithCustom adds the custom metrics' results of the same look
// (rollout.EvaluateCustom) to a decision of Look, as if they were rules of
// the judge: in Revision2 each is counted toward its own limits (its
// maxFailures, else analysis.limits'), a critical one fails the measurement
// when it fails and must pass for it to pass, and the score, verdict,
// action and cause are weighed again over all the rules. In Revision1 the
// verdict is again "any failed, else any undecided". A decision with no
// look taken (Errored) or no custom results is returned as it is, so a
// rollout without custom metrics decides exactly as before. d must be
// Look's: its state names the look's weight, which the cause quotes.
func WithCustom(cfg Config, d Decision, custom []rollout.RuleResult) Decision {
	if len(custom) == 0 || d.Verdict == rollout.Error {
		return d
	}
	rules := append(slices.Clone(d.Rules), custom...)
	if cfg.revision() < Revision2 {
		d.Rules, d.Verdict, d.Score = rules, plainVerdict(rules), score(rules)
		return d
	}
	t := cloneTally(d.State.Tally)
	if t == nil {
		t = &rollout.Tally{}
	}
	tallyRules(cfg, rules[len(d.Rules):], t)
	d.Rules, d.State.Tally = rules, t
	return decide(cfg, d.State.Weight, d)
}
