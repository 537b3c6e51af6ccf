package stats

import "math"

// MixtureSPRT is an always-valid sequential test (normal-mixture SPRT,
// Johari, Pekelis & Walsh 2017, "Always valid inference: bringing sequential
// analysis to A/B testing", a.k.a. "Peeking at A/B tests") of H0: theta <= 0
// against theta > 0, for an estimate thetaHat with variance v (both from the
// data so far).
//
// Tau2 is the variance of the normal mixing distribution over the effect
// theta. It sets where the test is most sensitive: a value near the square
// of the smallest effect worth catching (e.g. (0.02)^2 for two error-rate
// points) is a good default; the validity of the p-value does not depend on
// it, only the power does.
//
// Why: a canary is looked at every interval, and re-running a fixed-horizon
// test at each look inflates the false-rollback rate with the number of
// looks. The mixture likelihood ratio Lambda is a nonnegative martingale
// under theta = 0, so by Ville's inequality P(sup_t Lambda_t >= 1/alpha) <=
// alpha: the running minimum of 1/Lambda over all looks is a p-value valid
// at any stopping time, including "stop as soon as it is small".
type MixtureSPRT struct{ Tau2 float64 }

// PValue returns min(1, 1/Lambda) for one look, where
//
//	Lambda = sqrt(v / (v + Tau2)) * exp(Tau2 * thetaHat^2 / (2 v (v + Tau2)))
//
// is the likelihood ratio of N(theta, v) against N(0, v) integrated over
// theta ~ N(0, Tau2). The caller keeps the running minimum across looks,
// which is valid at any stopping time.
//
// One-sided: when thetaHat <= 0 the p-value is 1 (the canary is not worse);
// dropping rejections on that side only lowers the error rate, so the
// two-sided Ville bound still holds. With no information (v <= 0 or not
// finite, thetaHat not finite, Tau2 <= 0) the p-value is 1. The ratio is computed
// in log space so that a huge Lambda gives a tiny p-value instead of Inf.
func (m MixtureSPRT) PValue(thetaHat, v float64) float64 {
	if !(thetaHat > 0) {
		return 1
	}
	logL := m.logLambda(thetaHat, v)
	if math.IsNaN(logL) || logL <= 0 {
		return 1
	}
	return math.Exp(-logL)
}

// logLambda is log Lambda, or NaN when the inputs carry no information.
func (m MixtureSPRT) logLambda(thetaHat, v float64) float64 {
	t2 := m.Tau2
	if math.IsNaN(thetaHat) || math.IsInf(thetaHat, 0) || !(v > 0) || math.IsInf(v, 0) || !(t2 > 0) || math.IsInf(t2, 0) {
		return math.NaN()
	}
	return 0.5*math.Log(v/(v+t2)) + t2*thetaHat*thetaHat/(2*v*(v+t2))
}
