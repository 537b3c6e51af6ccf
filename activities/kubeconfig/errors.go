package kubeconfig

import (
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/canaryflow/canaryflow/rollout"
)

// Classify wraps err, an error from the API server or from reaching it,
// with what was being done ("updating Ingress prod/shop-canary"). Answers
// that a retry would only repeat — refused credentials or permissions, an
// object the server rejects as invalid, a request it cannot accept — also
// wrap rollout.ErrPermanent, so the activity stops retrying and says why.
// Everything else (timeouts, 5xx, 429, refused connections, conflicts that
// outlasted their retries) stays retryable.
//
// NotFound is not decided here: whether a missing object is an error
// depends on the weight being set, which only the caller knows.
func Classify(what string, err error) error {
	if err == nil {
		return nil
	}
	if Permanent(err) {
		return fmt.Errorf("%s: %w (%w)", what, err, rollout.ErrPermanent)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Permanent reports whether the API server's answer err cannot change by
// asking again.
func Permanent(err error) bool {
	switch {
	case apierrors.IsForbidden(err),
		apierrors.IsUnauthorized(err),
		apierrors.IsInvalid(err),
		apierrors.IsBadRequest(err),
		apierrors.IsMethodNotSupported(err),
		apierrors.IsNotAcceptable(err),
		apierrors.IsUnsupportedMediaType(err),
		apierrors.IsRequestEntityTooLargeError(err):
		return true
	}
	return false
}

// ConflictRetry is how the providers retry a read-modify-write that hit a
// Conflict: more attempts than client-go's retry.DefaultRetry (5 at a
// fixed 10 ms), spread out and jittered so that two writers retrying
// against each other fall out of step. About a third of a second in all;
// past it the Conflict is returned and the activity's own retry takes over.
var ConflictRetry = wait.Backoff{Steps: 8, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 0.5}
