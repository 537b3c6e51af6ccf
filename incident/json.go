package incident

import (
	"encoding/json"
	"fmt"
)

// JSON renders the report for tools, indented so it also reads in a diff.
// Missing figures (no data) are null; times are RFC 3339.
func JSON(r Report) ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the incident report of %s as JSON: %w", r.RolloutID, err)
	}
	return append(data, '\n'), nil
}
