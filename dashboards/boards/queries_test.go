package boards

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueriesReplaceGrafanaVariables(t *testing.T) {
	d, err := RolloutsOverview()
	require.NoError(t, err)
	qs, err := Queries(d, map[string]string{"job": "w", "__rate_interval": "1m", "__range": "5m"})
	require.NoError(t, err)
	require.NotEmpty(t, qs)
	for _, q := range qs {
		assert.NotContains(t, q.Expr, "$", "%s %s: %s", q.Panel, q.RefID, q.Expr)
		assert.NotEmpty(t, q.Panel)
	}
	withJob := 0
	for _, q := range qs {
		if strings.Contains(q.Expr, `job=~"w"`) || strings.Contains(q.Expr, `job="w"`) {
			withJob++
		}
	}
	assert.NotZero(t, withJob, "the job variable selects the worker's series")

	_, err = Queries(d, map[string]string{"job": "w"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "__rate_interval")
}
