package workflows

import (
	"fmt"

	"go.temporal.io/sdk/converter"

	"github.com/canaryflow/canaryflow/rollout"
)

// payloads decodes signal payloads received raw. It is the SDK's default
// converter, the one every client and the temporal CLI encode with; it is
// pure, so decoding inside the workflow stays deterministic.
var payloads = converter.GetDefaultDataConverter()

// decode fills into from a raw signal payload; no payload at all (a signal
// sent without input) leaves into at its zero value.
func decode(raw converter.RawValue, into any) error {
	p := raw.Payload()
	if p == nil {
		return nil
	}
	if err := payloads.FromPayload(p, into); err != nil {
		return fmt.Errorf("%s", rollout.Clip(err.Error(), 256))
	}
	return nil
}
