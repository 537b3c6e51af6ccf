package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/canaryflow/canaryflow/rollout"
)

// checkSearchAttributes refuses to start a worker on a namespace that lacks
// the rollouts' search attributes (or has them with another type): rollouts
// keep them current, and the server fails every workflow task that sets an
// unregistered one, which would wedge each rollout this worker picked up.
// The error prints the commands that register them.
func checkSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("listing the search attributes of namespace %s: %w", namespace, err)
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(rollout.SearchAttrTypes)) {
		want := rollout.SearchAttrTypes[name]
		got, ok := resp.GetCustomAttributes()[name]
		if ok && sameType(got, want) {
			continue
		}
		if ok {
			return fmt.Errorf("search attribute %s of namespace %s is %s; canaryflow needs %s", name, namespace, got, want)
		}
		missing = append(missing, name)
	}
	if len(missing) == 0 {
		return nil
	}
	var cmd strings.Builder
	for _, name := range missing {
		fmt.Fprintf(&cmd, "\n  temporal operator search-attribute create --namespace %s --name %s --type %s", namespace, name, rollout.SearchAttrTypes[name])
	}
	return fmt.Errorf("namespace %s lacks the search attributes %s, which rollouts keep current; register them with:%s",
		namespace, strings.Join(missing, ", "), cmd.String())
}

// sameType compares a server's indexed value type with the CLI's spelling
// (the enum prints as "Int", "Keyword").
func sameType(got enumspb.IndexedValueType, want string) bool {
	return strings.EqualFold(got.String(), want)
}
