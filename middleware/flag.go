package middleware

import "net/http"

// FlagConfig says who sees a feature besides canary traffic.
type FlagConfig struct {
	// Percent of users (0..100) who see the feature wherever they are routed,
	// chosen by hashing UserKey with the feature name so each user keeps the
	// same answer and each feature picks a different share of users.
	Percent int
	// UserKey identifies the user (an account ID, a session cookie). Nil, or
	// an empty key, leaves the user out of the Percent share: without a
	// stable key the answer could not be stable.
	UserKey func(*http.Request) string
	// Header and Cookie force the feature with "always" or "never", like the
	// Splitter's; defaults "X-Canary" and "canary".
	Header string
	// Cookie: see Header.
	Cookie string
}

// FeatureFlag serves on when the feature is enabled for r (see Enabled) and
// off otherwise. It lets a canary ship code paths that only canary traffic,
// testers and a chosen share of users exercise.
func FeatureFlag(feature string, cfg FlagConfig, on, off http.Handler) http.Handler {
	cfg = cfg.withDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.enabled(feature, r) {
			on.ServeHTTP(w, r)
			return
		}
		off.ServeHTTP(w, r)
	})
}

// Enabled reports whether feature is on for r, for handlers that branch
// inline instead of composing two handlers. In order: the header, then the
// cookie (always turns it on, never off), then the version a Splitter chose
// (canary turns it on), then the user's place in the Percent share.
func (c FlagConfig) Enabled(feature string, r *http.Request) bool {
	return c.withDefaults().enabled(feature, r)
}

func (c FlagConfig) withDefaults() FlagConfig {
	c.Header = http.CanonicalHeaderKey(c.Header)
	if c.Header == "" {
		c.Header = DefaultHeader
	}
	if c.Cookie == "" {
		c.Cookie = DefaultCookie
	}
	c.Percent = min(max(c.Percent, 0), 100)
	return c
}

func (c FlagConfig) enabled(feature string, r *http.Request) bool {
	if v, ok := forced(firstHeader(r, c.Header)); ok {
		return v == VersionCanary
	}
	if v, ok := forced(cookieValue(r, c.Cookie)); ok {
		return v == VersionCanary
	}
	if v, ok := VersionFrom(r.Context()); ok && v == VersionCanary {
		return true
	}
	if c.Percent == 0 || c.UserKey == nil {
		return false
	}
	if c.Percent == 100 {
		return true
	}
	key := c.UserKey(r)
	if key == "" {
		return false
	}
	return bucket(feature, key) < uint64(c.Percent)
}

// bucket places a user in 0..99 for a feature with 64-bit FNV-1a, written
// out so the hot path does not allocate a hasher or a byte slice.
func bucket(feature, key string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(feature); i++ {
		h ^= uint64(feature[i])
		h *= prime
	}
	// A zero separator byte (XOR with 0 is a no-op, so only the multiply
	// remains) keeps ("ab","c") and ("a","bc") apart.
	h *= prime
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime
	}
	// FNV's low bits mix poorly for short keys; the murmur3 finaliser
	// spreads them before the modulo.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h % 100
}
