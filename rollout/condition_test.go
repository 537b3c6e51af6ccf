package rollout

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each operator at, just under and just over its number.
func TestConditionEachOperatorAtAndAroundItsNumber(t *testing.T) {
	const n, eps = 2.0, 1e-9
	for _, tc := range []struct {
		cond            string
		under, at, over bool
	}{
		{"result < 2", true, false, false},
		{"result <= 2", true, true, false},
		{"result > 2", false, false, true},
		{"result >= 2", false, true, true},
		{"result == 2", false, true, false},
		{"result != 2", true, false, true},
	} {
		c, err := ParseCondition(tc.cond)
		require.NoError(t, err, tc.cond)
		assert.Equal(t, tc.under, c.Holds(n-eps), "%s at %g", tc.cond, n-eps)
		assert.Equal(t, tc.at, c.Holds(n), "%s at %g", tc.cond, n)
		assert.Equal(t, tc.over, c.Holds(n+eps), "%s at %g", tc.cond, n+eps)
		assert.False(t, c.Holds(math.NaN()), "%s: no data holds nothing", tc.cond)
	}
}

// && binds tighter than ||, as in PromQL's and/or and in Go.
func TestConditionAndBindsTighterThanOr(t *testing.T) {
	c, err := ParseCondition("result < 0 || result >= 2 && result < 10")
	require.NoError(t, err)
	for v, want := range map[float64]bool{-1: true, 0: false, 1.99: false, 2: true, 9.99: true, 10: false} {
		assert.Equal(t, want, c.Holds(v), "at %g", v)
	}
	c, err = ParseCondition("  result>=0.05&&result<=.5  ")
	require.NoError(t, err)
	assert.True(t, c.Holds(0.05))
	assert.False(t, c.Holds(0.51))
	assert.Equal(t, "result>=0.05&&result<=.5", c.String())
}

func TestConditionNumbers(t *testing.T) {
	for text, want := range map[string]float64{
		"result < 1": 1, "result < -1": -1, "result < +1.5": 1.5, "result < .5": 0.5, "result < 5.": 5,
		"result < 2e-3": 0.002, "result < 1E3": 1000, "result < 0": 0,
	} {
		c, err := ParseCondition(text)
		require.NoError(t, err, text)
		assert.True(t, c.Holds(want-1e-12), text)
		assert.False(t, c.Holds(want), text)
	}
}

// Anything but the grammar is refused with where it went wrong; nothing is
// evaluated as code.
func TestConditionRefusesAnythingElse(t *testing.T) {
	for text, want := range map[string]string{
		"":                             `expected "result" at the end`,
		"result":                       "expected one of < <= > >= == != at the end",
		"result <":                     "expected a number at the end",
		"result < x":                   `expected a number at byte 9, found "x"`,
		"value < 1":                    `expected "result" at byte 0`,
		"resultx < 1":                  "expected one of",
		"result =< 1":                  "expected one of",
		"result = 1":                   "expected one of",
		"result < 1 & result > 0":      "expected && or || or the end at byte 11",
		"result < 1 and result > 0":    "expected && or || or the end",
		"result < 1 ||":                `expected "result" at the end`,
		"(result < 1)":                 `expected "result" at byte 0`,
		"result < 1)":                  "expected && or || or the end",
		"result < NaN":                 "expected a number",
		"result < Inf":                 "expected a number",
		"result < 1e999":               "not a finite number",
		"result < 1x":                  "expected a space, && or || after the number",
		"result < 1.2.3":               "expected a space, && or || after the number",
		"result < 0x10":                "expected a space, && or || after the number",
		"result < 1; os.Exit(1)":       "expected && or || or the end",
		"result < 1\nresult > 2":       "expected && or || or the end",
		"2 > result":                   `expected "result"`,
		"result < result":              "expected a number",
		"result < 1 || result > 2 || ": `expected "result" at the end`,
		strings.Repeat("result < 1 || ", 8) + "result < 1":  "joins more than 8 comparisons",
		strings.Repeat(" ", MaxConditionLen) + "result < 1": "bytes long; the maximum is 256",
	} {
		_, err := ParseCondition(text)
		require.Error(t, err, "%q", text)
		assert.Contains(t, err.Error(), want, "%q", text)
	}
	_, err := ParseCondition(strings.Repeat("result < 1 || ", 7) + "result < 1")
	assert.NoError(t, err, "8 comparisons are allowed")
}

// Reasons show the figure against the spec's own number, turned to what is
// true of the figure.
func TestConditionExplain(t *testing.T) {
	c, _ := ParseCondition("result >= 2")
	assert.Equal(t, "2.4 ≥ 2", c.Explain(2.4))
	assert.Equal(t, "1.9 < 2", c.Explain(1.9))
	c, _ = ParseCondition("result < 0.05")
	assert.Equal(t, "0.05 ≥ 0.05", c.Explain(0.05))
	c, _ = ParseCondition("result != 0")
	assert.Equal(t, "0 = 0", c.Explain(0))
	c, _ = ParseCondition("result >= 2 && result < 10 || result < 0")
	assert.Equal(t, "(2.4 ≥ 2 && 2.4 < 10 || 2.4 < 0) is true", c.Explain(2.4))
	assert.Equal(t, "(12 ≥ 2 && 12 < 10 || 12 < 0) is false", c.Explain(12))
	assert.Equal(t, "123457", Short(123456.7))
	assert.Equal(t, "no data", Short(math.NaN()))
}
