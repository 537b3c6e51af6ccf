package rollout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// oneDocument returns the spec's only YAML document. A second document
// (after ---) would be ignored by the decoder, so a file holding two
// rollouts would silently run the first: it is refused. An empty trailing
// document (a final ---) holds nothing to ignore and is accepted.
func oneDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first *yaml.Node
	for n := 1; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return first, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing YAML: %w", err)
		}
		if first == nil {
			first = &doc
			continue
		}
		if !emptyDocument(&doc) {
			return nil, fmt.Errorf("the file holds more than one YAML document (the second starts with the --- at line %d): a spec file holds exactly one rollout", doc.Line)
		}
	}
}

func emptyDocument(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return len(doc.Content) == 1 && n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == ""
}

// step is one move from a value to a part of it: a struct field or a slice element.
type step struct {
	field int
	elem  int
}

// explicitKey is a key the YAML sets, with how to reach its value in a Spec.
type explicitKey struct {
	path  string
	steps []step
	// scalar is true when the YAML value is a scalar (null included) or a
	// sequence, as opposed to a mapping, whose own keys are checked instead.
	scalar bool
}

// keyWalk walks the YAML against Spec's JSON field names. The decoder
// matches keys case-insensitively (encoding/json does), so "SetWeight" or
// "setweight" would be taken for setWeight, and with both present one would
// silently win: a key that is not spelled exactly is refused.
type keyWalk struct {
	problems []FieldError
	keys     []explicitKey
	// visits counts the nodes walked. Aliases and merge keys reuse nodes,
	// so a short file can name exponentially many (an 891-byte spec of
	// nested "<<: *a" merges took 10 s here, each level ten times more);
	// the decoder refuses such a file only after this walk.
	visits int
}

// maxKeyWalkVisits bounds the walk. Without aliases every node is visited
// at most once, and a spec of MaxSpecBytes has fewer nodes than bytes.
const maxKeyWalkVisits = MaxSpecBytes

func (w *keyWalk) walk(n *yaml.Node, t reflect.Type, path string, steps []step) {
	if n == nil || w.visits > maxKeyWalkVisits {
		return
	}
	if w.visits++; w.visits > maxKeyWalkVisits {
		w.problems = append(w.problems, FieldError{Path: "spec",
			Msg: "the YAML's aliases and merge keys expand to too much: write the spec out without nesting them"})
		return
	}
	if n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		}
		w.walk(n, t, path, steps)
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		w.mapping(n, t, path, steps)
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), append(clone(steps), step{elem: i}))
		}
	}
}

func (w *keyWalk) mapping(n *yaml.Node, t reflect.Type, path string, steps []step) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" {
			// A merge key: its mapping's keys belong to this struct.
			w.walk(v, t, path, steps)
			continue
		}
		idx, exact, name := fieldByKey(t, k.Value)
		p := join(path, k.Value)
		if idx < 0 {
			continue // unknown: the strict decoder names it
		}
		if !exact {
			w.problems = append(w.problems, FieldError{Path: p,
				Msg: fmt.Sprintf("keys are case-sensitive: write %q", join(path, name))})
			continue
		}
		fsteps := append(clone(steps), step{field: idx, elem: -1})
		for v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		w.keys = append(w.keys, explicitKey{path: p, steps: fsteps, scalar: v.Kind != yaml.MappingNode})
		w.walk(v, t.Field(idx).Type, p, fsteps)
	}
}

func clone(s []step) []step { return append([]step(nil), s...) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldByKey finds the field a JSON key names: exactly, or only when
// compared case-insensitively (exact false), or not at all (-1).
func fieldByKey(t reflect.Type, key string) (idx int, exact bool, name string) {
	idx = -1
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		if tag == key {
			return i, true, tag
		}
		if idx < 0 && strings.EqualFold(tag, key) {
			idx, name = i, tag
		}
	}
	return idx, false, name
}

// replacedByDefault finds keys the YAML sets to their zero value (0, "",
// null, 0s) that WithDefaults then replaced: "maxP95: 0s" reads as "no
// latency ceiling" but would have run with 2s, and "steps:" with nothing
// after it as "no steps" but would have run the default plan. Silently
// running something other than what is written is refused; leaving the key
// out still gets the default.
func (w *keyWalk) replacedByDefault(raw, defaulted Spec) []FieldError {
	var out []FieldError
	for _, k := range w.keys {
		if !k.scalar {
			continue
		}
		before, ok := reach(reflect.ValueOf(raw), k.steps)
		after, ok2 := reach(reflect.ValueOf(defaulted), k.steps)
		if !ok2 || after.IsZero() || (ok && !before.IsZero()) {
			continue
		}
		if a := after; a.Kind() == reflect.Pointer && a.Elem().Kind() == reflect.Struct {
			continue // a section left empty: its own keys get their defaults
		}
		out = append(out, FieldError{Path: k.path, Msg: fmt.Sprintf(
			"is set to nothing (0, empty or null), which would silently become the default %s: remove the key to use the default, or give a value",
			describeValue(after))})
	}
	return out
}

// reach follows steps into v; false when a pointer on the way is nil or an
// index is out of range.
func reach(v reflect.Value, steps []step) (reflect.Value, bool) {
	for _, s := range steps {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		if s.elem >= 0 {
			if v.Kind() != reflect.Slice || s.elem >= v.Len() {
				return reflect.Value{}, false
			}
			v = v.Index(s.elem)
			continue
		}
		v = v.Field(s.field)
	}
	return v, true
}

// describeValue renders a default for an error message.
func describeValue(v reflect.Value) string {
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case Duration:
		return time.Duration(x).String()
	case []Step:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = s.Describe()
		}
		return "plan (" + strings.Join(parts, ", ") + ")"
	case []string:
		return "(" + strings.Join(x, ", ") + ")"
	case string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(v.Interface())
}
