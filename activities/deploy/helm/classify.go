package helm

import (
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/canaryflow/canaryflow/rollout"
)

// permanentHelm are phrases of Helm errors that no retry can fix: the chart
// or the values are wrong, not the cluster's availability.
var permanentHelm = []string{
	"values don't meet the specifications of the schema",
	"parse error",
	"template: ",
	"unable to build kubernetes objects",
	"invalid chart",
}

// classify marks Helm and API errors that a retry cannot fix as permanent;
// timeouts, conflicts and unavailability stay retryable.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if apierrors.IsInvalid(err) || apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) {
		return fmt.Errorf("%w: %w", err, rollout.ErrPermanent)
	}
	msg := err.Error()
	for _, p := range permanentHelm {
		if strings.Contains(msg, p) {
			return fmt.Errorf("%w: %w", err, rollout.ErrPermanent)
		}
	}
	return err
}
