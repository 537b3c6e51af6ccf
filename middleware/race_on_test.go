//go:build race

package middleware

// raceEnabled: see race_off_test.go.
const raceEnabled = true
