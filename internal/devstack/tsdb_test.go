package devstack_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/canaryflow/canaryflow/internal/devstack"
	"github.com/canaryflow/canaryflow/internal/testenv"
)

// TestPrometheusOpensAnExistingTSDB backfills a recorded counter with
// promtool and checks that Prometheus started on that TSDB answers with the
// recorded values, and that Stop leaves the directory (and its blocks) be.
func TestPrometheusOpensAnExistingTSDB(t *testing.T) {
	t.Parallel()
	promtool, err := devstack.Binary("", "promtool")
	require.NoError(t, err)

	// Ten samples 15 s apart, the last a minute ago: 0, 7, 14, … 63.
	end := time.Now().Add(-time.Minute).Truncate(time.Second)
	var om strings.Builder
	om.WriteString("# HELP recorded_hits_total Recorded hits.\n# TYPE recorded_hits counter\n")
	for i := range 10 {
		at := end.Add(time.Duration(i-9) * 15 * time.Second)
		fmt.Fprintf(&om, "recorded_hits_total{src=\"backfill\"} %d %d\n", 7*i, at.Unix())
	}
	om.WriteString("# EOF\n")
	dir := t.TempDir()
	in := filepath.Join(dir, "recorded.om")
	require.NoError(t, os.WriteFile(in, []byte(om.String()), 0o644))
	tsdb := filepath.Join(dir, "tsdb")
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", in, tsdb).CombinedOutput()
	require.NoError(t, err, "promtool: %s", out)

	srv := testenv.PrometheusWith(t, devstack.PrometheusOptions{TSDBDir: tsdb})
	pc, err := promapi.NewClient(promapi.Config{Address: srv.URL()})
	require.NoError(t, err)
	api := promv1.NewAPI(pc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, _, err := api.Query(ctx, `recorded_hits_total{src="backfill"}`, end)
	require.NoError(t, err)
	vec, ok := v.(model.Vector)
	require.True(t, ok, "%v", v)
	require.Len(t, vec, 1, "the recorded series; log:\n%s", srv.LogTail())
	assert.Equal(t, model.SampleValue(63), vec[0].Value)
	v, _, _, err = api.Query(ctx, `increase(recorded_hits_total[135s])`, end)
	require.NoError(t, err)
	require.Len(t, v.(model.Vector), 1)
	assert.Equal(t, model.SampleValue(63), v.(model.Vector)[0].Value, "0 → 63 over exactly the recorded 135 s")

	require.NoError(t, srv.Stop())
	blocks, err := filepath.Glob(filepath.Join(tsdb, "*", "meta.json"))
	require.NoError(t, err)
	assert.NotEmpty(t, blocks, "the backfilled blocks outlive Stop")
}
