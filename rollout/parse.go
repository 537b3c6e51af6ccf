package rollout

import (
	"fmt"

	"sigs.k8s.io/yaml"
)

// Parse reads a spec from YAML, rejecting unknown fields (a typo such as
// "setweight" must not silently fall back to a default), applies defaults and
// validates. The error lists every problem found.
func Parse(data []byte) (Spec, error) {
	var s Spec
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return Spec{}, fmt.Errorf("reading rollout spec: %w", err)
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}
