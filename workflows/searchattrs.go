package workflows

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/canaryflow/canaryflow/rollout"
)

// The rollout's typed search attributes (see rollout.SearchAttrTypes).
var (
	attrApp       = temporal.NewSearchAttributeKeyKeyword(rollout.SearchAttrApp)
	attrNamespace = temporal.NewSearchAttributeKeyKeyword(rollout.SearchAttrNamespace)
	attrPhase     = temporal.NewSearchAttributeKeyKeyword(rollout.SearchAttrPhase)
	attrWeight    = temporal.NewSearchAttributeKeyInt64(rollout.SearchAttrWeight)
	attrVersion   = temporal.NewSearchAttributeKeyKeyword(rollout.SearchAttrVersion)
)

// maxAttrBytes bounds a keyword value: the server refuses long values, and a
// refused upsert would fail every workflow task of the rollout. Validated
// specs are far shorter; this is the backstop.
const maxAttrBytes = 255

// publishAll sets every search attribute, at the start of each run: the
// first, and each continued one (the server carries them across
// continue-as-new; setting them again makes that not matter).
func (r *run) publishAll(ctx workflow.Context) {
	if !r.attrs {
		return
	}
	r.upsert(ctx,
		attrApp.ValueSet(rollout.Clip(r.spec.App, maxAttrBytes)),
		attrNamespace.ValueSet(rollout.Clip(r.spec.Namespace, maxAttrBytes)),
		attrVersion.ValueSet(rollout.Clip(r.spec.Canary.Version, maxAttrBytes)),
		attrPhase.ValueSet(string(r.status.Phase)),
		attrWeight.ValueSet(int64(r.status.Weight)),
	)
}

// publishPhase and publishWeight keep the attributes that change current.
func (r *run) publishPhase(ctx workflow.Context) {
	if r.attrs {
		r.upsert(ctx, attrPhase.ValueSet(string(r.status.Phase)))
	}
}

func (r *run) publishWeight(ctx workflow.Context) {
	if r.attrs {
		r.upsert(ctx, attrWeight.ValueSet(int64(r.status.Weight)))
	}
}

// upsert records a failure to upsert instead of failing the rollout: what
// people search by must never change how a rollout ends.
func (r *run) upsert(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("updating search attributes", "error", err)
	}
}
