package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/canaryflow/canaryflow/internal/testenv"
	"github.com/canaryflow/canaryflow/rollout"
)

func TestTheWorkerChecksTheSearchAttributesItNeeds(t *testing.T) {
	srv := testenv.Temporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: srv.Address(), Namespace: srv.Namespace()})
	require.NoError(t, err)
	defer c.Close()

	require.NoError(t, checkSearchAttributes(ctx, c, srv.Namespace()), "the dev server registers them")

	// A namespace made by hand has none of them: the worker refuses to start
	// and prints the commands that register them.
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: "bare", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	require.NoError(t, err)
	var missing error
	require.Eventually(t, func() bool {
		missing = checkSearchAttributes(ctx, c, "bare")
		return missing != nil && strings.Contains(missing.Error(), "lacks the search attributes")
	}, 20*time.Second, 200*time.Millisecond, "last: %v", missing)
	assert.Contains(t, missing.Error(), "CanaryApp, CanaryNamespace, CanaryPhase, CanaryVersion, CanaryWeight")
	assert.Contains(t, missing.Error(), "temporal operator search-attribute create --namespace bare --name CanaryWeight --type Int")

	// One registered with the wrong type is named with both types.
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: "bare", SearchAttributes: map[string]enumspb.IndexedValueType{"CanaryWeight": enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	})
	require.NoError(t, err)
	err = checkSearchAttributes(ctx, c, "bare")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "search attribute CanaryWeight of namespace bare is Keyword; canaryflow needs Int")

	// A namespace that does not exist is an error that names it.
	err = checkSearchAttributes(ctx, c, "no-such-namespace")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "namespace no-such-namespace")
}

// make dev-server registers the same attributes, with the same types, as the
// worker checks for.
func TestMakeDevServerRegistersWhatTheWorkerNeeds(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "Makefile"))
	require.NoError(t, err)
	var line string
	for l := range strings.Lines(string(mk)) {
		if strings.HasPrefix(l, "SEARCH_ATTRIBUTES :=") {
			line = strings.TrimSpace(strings.TrimPrefix(l, "SEARCH_ATTRIBUTES :="))
		}
	}
	require.NotEmpty(t, line, "the Makefile defines SEARCH_ATTRIBUTES")
	got := map[string]string{}
	for _, f := range strings.Fields(line) {
		name, typ, ok := strings.Cut(f, "=")
		require.True(t, ok, f)
		got[name] = typ
	}
	assert.Equal(t, rollout.SearchAttrTypes, got)
}
