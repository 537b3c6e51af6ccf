package activities

import (
	"errors"
	"maps"
	"slices"

	"go.temporal.io/sdk/temporal"
)

func isRetryable(err error) bool {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return !app.NonRetryable()
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
