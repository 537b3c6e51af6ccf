package load

import (
	"errors"
	"fmt"
	"maps"
	"time"
)

// UnknownVersion counts answers that carried no X-App-Version header (a
// router error page, for example), so they still show up by version.
const UnknownVersion = "unknown"

// ErrNoTraffic is returned by Stats.Check when nothing was answered, so a
// caller can tell a dead target from a merely failing one.
var ErrNoTraffic = errors.New("no request was answered")

// Stats are a generator's counters. Errors are transport failures plus any
// non-2xx answer; ByStatus leaves transport failures out because they have
// no status.
type Stats struct {
	Sent            int64            `json:"sent"`
	OK              int64            `json:"ok"`
	Errors          int64            `json:"errors"`
	TransportErrors int64            `json:"transportErrors"`
	Skipped         int64            `json:"skipped"`
	ByStatus        map[int]int64    `json:"byStatus"`
	ByVersion       map[string]int64 `json:"byVersion"`
	LastError       string           `json:"lastError,omitempty"`
	Elapsed         time.Duration    `json:"elapsed"`

	totalLatency time.Duration
	answered     int64
}

func newStats() Stats {
	return Stats{ByStatus: map[int]int64{}, ByVersion: map[string]int64{}}
}

func (s Stats) clone() Stats {
	s.ByStatus = maps.Clone(s.ByStatus)
	s.ByVersion = maps.Clone(s.ByVersion)
	return s
}

// Rate is the achieved rate of sent requests per second.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Elapsed.Seconds()
}

// ErrorRate is the share of finished requests that failed.
func (s Stats) ErrorRate() float64 {
	done := s.OK + s.Errors
	if done == 0 {
		return 0
	}
	return float64(s.Errors) / float64(done)
}

// MeanLatency is the mean time to a full answer over answered requests.
func (s Stats) MeanLatency() time.Duration {
	if s.answered == 0 {
		return 0
	}
	return s.totalLatency / time.Duration(s.answered)
}

// Share is the fraction of answers that came from version, which is how a
// demo checks that the router honours the canary weight.
func (s Stats) Share(version string) float64 {
	var total int64
	for _, n := range s.ByVersion {
		total += n
	}
	if total == 0 {
		return 0
	}
	return float64(s.ByVersion[version]) / float64(total)
}

// Check returns ErrNoTraffic when nothing was answered.
func (s Stats) Check() error {
	if s.OK+s.Errors-s.TransportErrors == 0 {
		if s.LastError != "" {
			return fmt.Errorf("%w (last error: %s)", ErrNoTraffic, s.LastError)
		}
		return ErrNoTraffic
	}
	return nil
}

// String renders the figures on one line for logs.
func (s Stats) String() string {
	return fmt.Sprintf("sent=%d ok=%d errors=%d (%.1f%%) skipped=%d rate=%.1f/s mean=%s by version=%v by status=%v",
		s.Sent, s.OK, s.Errors, 100*s.ErrorRate(), s.Skipped, s.Rate(), s.MeanLatency().Round(time.Microsecond), s.ByVersion, s.ByStatus)
}
