package rollout

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Condition is a custom metric's success or failure condition: comparisons
// of the query's result with numbers, joined by && (binding tighter) and ||.
// It is parsed by a small strict grammar, never evaluated as code, so a spec
// cannot run anything but a comparison inside the workflow:
//
//	condition  = conjunct { "||" conjunct }
//	conjunct   = comparison { "&&" comparison }
//	comparison = "result" op number
//	op         = "<" | "<=" | ">" | ">=" | "==" | "!="
//
// Numbers are decimal (1, 0.05, .5, 2e-3), finite, optionally signed.
type Condition struct {
	// any holds the alternatives (joined by ||), each a list of comparisons
	// that must all hold (joined by &&).
	any  [][]comparison
	text string
}

type comparison struct {
	op string
	// lit is the number as written, so reasons quote the spec's own figure.
	lit string
	n   float64
}

var numberRe = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`)

// ParseCondition reads a condition such as "result < 0.05" or
// "result >= 2 || result < 0". Its errors say where the text went wrong.
func ParseCondition(s string) (Condition, error) {
	if len(s) > MaxConditionLen {
		return Condition{}, fmt.Errorf("is %d bytes long; the maximum is %d", len(s), MaxConditionLen)
	}
	p := condParser{s: s}
	c := Condition{text: strings.TrimSpace(s)}
	terms := 0
	for {
		var all []comparison
		for {
			cmp, err := p.comparison()
			if err != nil {
				return Condition{}, err
			}
			if terms++; terms > MaxConditionTerms {
				return Condition{}, fmt.Errorf("joins more than %d comparisons", MaxConditionTerms)
			}
			all = append(all, cmp)
			if !p.take("&&") {
				break
			}
		}
		c.any = append(c.any, all)
		if !p.take("||") {
			break
		}
	}
	if p.skip(); p.i < len(s) {
		return Condition{}, p.fail("expected && or || or the end")
	}
	return c, nil
}

// Holds reports whether the condition is true of v. NaN holds nothing:
// a missing result is decided before conditions are looked at.
func (c Condition) Holds(v float64) bool {
	for _, all := range c.any {
		ok := true
		for _, cmp := range all {
			ok = ok && cmp.holds(v)
		}
		if ok {
			return true
		}
	}
	return false
}

// String is the condition as written (trimmed).
func (c Condition) String() string { return c.text }

// Explain renders the condition with v in place of result, each comparison
// turned to what is true of v: "2.4 ≥ 2" when "result >= 2" holds, "2.4 ≥ 2"
// again when "result < 2" does not. A single comparison reads as a fact; a
// compound condition is shown whole with whether it held.
func (c Condition) Explain(v float64) string {
	if len(c.any) == 1 && len(c.any[0]) == 1 {
		cmp := c.any[0][0]
		op := cmp.op
		if !cmp.holds(v) {
			op = negated[op]
		}
		return fmt.Sprintf("%s %s %s", Short(v), symbols[op], cmp.lit)
	}
	parts := make([]string, len(c.any))
	for i, all := range c.any {
		ps := make([]string, len(all))
		for j, cmp := range all {
			ps[j] = fmt.Sprintf("%s %s %s", Short(v), symbols[cmp.op], cmp.lit)
		}
		parts[i] = strings.Join(ps, " && ")
	}
	held := "false"
	if c.Holds(v) {
		held = "true"
	}
	return fmt.Sprintf("(%s) is %s", strings.Join(parts, " || "), held)
}

func (c comparison) holds(v float64) bool {
	switch c.op {
	case "<":
		return v < c.n
	case "<=":
		return v <= c.n
	case ">":
		return v > c.n
	case ">=":
		return v >= c.n
	case "==":
		return v == c.n
	case "!=":
		return v != c.n && !math.IsNaN(v)
	}
	return false
}

// symbols are how reasons print the operators; negated is each one's opposite.
var (
	symbols = map[string]string{"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
	negated = map[string]string{"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
)

// Short renders a figure for a reason: six significant digits at most,
// "no data" for NaN.
func Short(v float64) string {
	if math.IsNaN(v) {
		return "no data"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

type condParser struct {
	s string
	i int
}

func (p *condParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *condParser) take(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

func (p *condParser) fail(want string) error {
	if p.i >= len(p.s) {
		return fmt.Errorf("%s at the end, in %q: a condition reads like \"result < 0.05\" or \"result >= 2 || result < 0\"", want, trunc(p.s))
	}
	return fmt.Errorf("%s at byte %d, found %q, in %q: a condition reads like \"result < 0.05\" or \"result >= 2 || result < 0\"",
		want, p.i, trunc(p.s[p.i:min(len(p.s), p.i+8)]), trunc(p.s))
}

var errNotFinite = errors.New("not a finite number")

func (p *condParser) comparison() (comparison, error) {
	if !p.take("result") {
		return comparison{}, p.fail("expected \"result\"")
	}
	p.skip()
	var c comparison
	for _, op := range []string{"<=", ">=", "==", "!=", "<", ">"} {
		if strings.HasPrefix(p.s[p.i:], op) {
			c.op = op
			p.i += len(op)
			break
		}
	}
	if c.op == "" {
		return comparison{}, p.fail("expected one of < <= > >= == !=")
	}
	p.skip()
	lit := numberRe.FindString(p.s[p.i:])
	if lit == "" {
		return comparison{}, p.fail("expected a number")
	}
	n, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(n, 0) {
		return comparison{}, fmt.Errorf("%s at byte %d: %w", trunc(lit), p.i, errNotFinite)
	}
	p.i += len(lit)
	if p.i < len(p.s) && (isIdent(p.s[p.i]) || p.s[p.i] == '.') {
		return comparison{}, p.fail("expected a space, && or || after the number")
	}
	c.lit, c.n = lit, n
	return c, nil
}

func isIdent(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}
