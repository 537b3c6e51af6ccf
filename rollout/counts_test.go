package rollout

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsKeepTheirInfiniteBoundThroughJSON(t *testing.T) {
	in := VersionCounts{Requests: 10, Buckets: []Bucket{{LE: 0.25, Count: 4}, {LE: Value(math.Inf(1)), Count: 10}}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"le":"+Inf"`)
	var out VersionCounts
	require.NoError(t, json.Unmarshal(b, &out))
	assert.True(t, math.IsInf(float64(out.Buckets[1].LE), 1), "the +Inf bucket survives a round trip")
	assert.Equal(t, 0.25, float64(out.Buckets[0].LE))
	assert.Error(t, json.Unmarshal([]byte(`{"buckets":[{"le":"x","count":1}]}`), &out))
}
