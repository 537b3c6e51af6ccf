package helm

import (
	"fmt"
	"strings"

	"github.com/canaryflow/canaryflow/rollout"
)

// imageRef splits an image reference into repository and tag, the shape of
// the app chart's values; a reference without a tag takes the version.
func imageRef(rel rollout.Release) (repository, tag string, err error) {
	img := rel.Image
	if img == "" {
		return "", "", fmt.Errorf("release %s has no image: %w", rel.Version, rollout.ErrPermanent)
	}
	if at := strings.Index(img, "@"); at >= 0 {
		return "", "", fmt.Errorf("image %q: digests are not supported by the app chart's repository/tag values: %w", img, rollout.ErrPermanent)
	}
	slash := strings.LastIndex(img, "/")
	if colon := strings.LastIndex(img, ":"); colon > slash {
		return img[:colon], img[colon+1:], nil
	}
	return img, rel.Version, nil
}

// set writes v at a dotted path of vals, creating maps on the way.
func set(vals map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	m := vals
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

// get reads a string at a dotted path of vals.
func get(vals map[string]any, path string) string {
	keys := strings.Split(path, ".")
	m := vals
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			return ""
		}
		m = next
	}
	s, _ := m[keys[len(keys)-1]].(string)
	return s
}

// copyValues deep-copies a values tree so a release's stored config is
// never modified in place.
func copyValues(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if m, ok := v.(map[string]any); ok {
			v = copyValues(m)
		}
		out[k] = v
	}
	return out
}

// imageKeys are the values holding a role's image.
func imageKeys(role rollout.Role) (repository, tag string) {
	if role == rollout.RoleCanary {
		return "backend.canary.image.repository", "backend.canary.image.tag"
	}
	return "backend.image.repository", "backend.image.tag"
}

// lookup reads any value at a dotted path of vals.
func lookup(vals map[string]any, path string) any {
	keys := strings.Split(path, ".")
	m := vals
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m[keys[len(keys)-1]]
}

// merge writes src's values over dst, descending into maps, so a spec's
// values change only the keys they name.
func merge(dst, src map[string]any) {
	for k, v := range src {
		sm, ok := v.(map[string]any)
		dm, isMap := dst[k].(map[string]any)
		if ok && isMap {
			merge(dm, sm)
			continue
		}
		if ok {
			v = copyValues(sm)
		}
		dst[k] = v
	}
}
