package rollout

import (
	"errors"
	"fmt"
	"reflect"

	"sigs.k8s.io/yaml"
)

// Parse reads a spec from YAML, applies defaults and validates. It refuses
// what would otherwise be read silently as something else: unknown fields (a
// typo such as "setWeigth" must not fall back to a default), keys spelled in
// another case ("SetWeight"), a second YAML document, and a key set to
// nothing (steps: [], maxP95: 0s) that a default would replace. The error
// lists every problem found.
func Parse(data []byte) (Spec, error) {
	if len(data) > MaxSpecBytes {
		return Spec{}, fmt.Errorf("reading rollout spec: it is %d bytes; the maximum is %d", len(data), MaxSpecBytes)
	}
	root, err := oneDocument(data)
	if err != nil {
		return Spec{}, fmt.Errorf("reading rollout spec: %w", err)
	}
	var keys keyWalk
	keys.walk(root, reflect.TypeFor[Spec](), "", nil)
	var raw Spec
	if err := yaml.UnmarshalStrict(data, &raw); err != nil {
		return Spec{}, fmt.Errorf("reading rollout spec: %w", err)
	}
	s := raw.WithDefaults()
	c := &checker{problems: keys.problems}
	c.problems = append(c.problems, keys.replacedByDefault(raw, s)...)
	var v *ValidationError
	if err := s.Validate(); errors.As(err, &v) {
		c.problems = append(c.problems, v.Problems...)
	}
	if err := c.errorOf(); err != nil {
		return Spec{}, err
	}
	return s, nil
}
