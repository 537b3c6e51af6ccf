package rollout

import (
	"fmt"
	"math"
)

// EvaluateCustom judges each custom metric on what the sample read for it,
// in the spec's order: Successful, Failed, Inconclusive (no data, not
// measured, or neither condition decides) or Error (its query failed), each
// with a one-line reason such as "error_budget_burn canary 2.4 ≥ 2
// (failureCondition), stable 0.3 → Failed". A metric asked per version is
// judged on the canary's result. It is pure, so the workflow can call it.
func EvaluateCustom(metrics []CustomMetric, s Sample) []RuleResult {
	if len(metrics) == 0 {
		return nil
	}
	out := make([]RuleResult, 0, len(metrics))
	for _, m := range metrics {
		out = append(out, evaluateMetric(m, s))
	}
	return out
}

func evaluateMetric(m CustomMetric, s Sample) RuleResult {
	nan := Value(math.NaN())
	r := RuleResult{Rule: m.Name, Estimate: nan, Lo: nan, Hi: nan, Limit: nan, P: nan, Alpha: nan, Critical: m.Critical}
	decide := func(v Verdict, format string, args ...any) RuleResult {
		r.Verdict = v
		r.Reason = fmt.Sprintf("%s %s → %s", m.Name, fmt.Sprintf(format, args...), v)
		return r
	}
	var res *CustomResult
	for i := range s.Custom {
		if s.Custom[i].Name == m.Name {
			res = &s.Custom[i]
			break
		}
	}
	if res == nil {
		return decide(Inconclusive, "was not measured (the metrics source ran no query for it)")
	}
	if res.Err != "" {
		return decide(Error, "could not be read: %s", Clip(res.Err, MaxMessageBytes/2))
	}
	judged, ok := res.value(string(RoleCanary))
	who, other := "canary ", ""
	if ok {
		if st, ok := res.value(string(RoleStable)); ok {
			other = ", stable " + Short(float64(st.Value))
		}
	} else if judged, ok = res.value(""); ok {
		who = ""
	} else {
		return decide(Inconclusive, "has no canary result")
	}
	v := float64(judged.Value)
	r.Estimate = judged.Value
	if judged.Value.Missing() {
		return decide(Inconclusive, "%sno data (no series, or not a finite number)%s", who, other)
	}
	success, sErr := optionalCondition(m.SuccessCondition)
	failure, fErr := optionalCondition(m.FailureCondition)
	if sErr != nil || fErr != nil {
		return decide(Error, "has a condition that does not parse (success: %v, failure: %v)", sErr, fErr)
	}
	switch {
	case failure != nil && failure.Holds(v):
		return decide(Failed, "%s%s (failureCondition)%s", who, failure.Explain(v), other)
	case success != nil && success.Holds(v):
		return decide(Successful, "%s%s (successCondition)%s", who, success.Explain(v), other)
	case success != nil && failure == nil:
		return decide(Failed, "%s%s (successCondition %s not met)%s", who, success.Explain(v), success, other)
	case failure != nil && success == nil:
		return decide(Successful, "%s%s (failureCondition %s not met)%s", who, failure.Explain(v), failure, other)
	}
	return decide(Inconclusive, "%s%s: neither successCondition %s nor failureCondition %s is met%s", who, Short(v), success, failure, other)
}

func optionalCondition(s string) (*Condition, error) {
	if s == "" {
		return nil, nil
	}
	c, err := ParseCondition(s)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// severity orders verdicts from a pass to a rollback: a measurement is as
// bad as its worst part. An Error (a query failed) is worse than too little
// data, since it is counted toward the consecutive-error limit, and better
// than Failed, which is evidence against the canary.
var severity = map[Verdict]int{Successful: 1, Inconclusive: 2, Error: 3, Failed: 4}

// Worst returns the more severe of two verdicts (Failed, then Error, then
// Inconclusive, then Successful); an empty verdict gives way to the other.
func Worst(a, b Verdict) Verdict {
	if severity[b] > severity[a] {
		return b
	}
	return a
}

// EvaluateAnalysis is the thresholds judgement of a measurement with its
// custom metrics: the built-in rules by Evaluate, each custom metric by
// EvaluateCustom, and the worst of their verdicts. The reasons are
// Evaluate's followed by those of the custom metrics that did not pass;
// the custom metrics' results are returned for the measurement's record.
func EvaluateAnalysis(a Analysis, s Sample) (Verdict, []string, []RuleResult) {
	v, reasons := Evaluate(a.Thresholds, s)
	custom := EvaluateCustom(a.Metrics, s)
	for _, r := range custom {
		v = Worst(v, r.Verdict)
		if r.Verdict != Successful {
			reasons = append(reasons, r.Reason)
		}
	}
	return v, reasons, custom
}
