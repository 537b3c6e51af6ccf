//go:build !unix

package middleware

import "time"

// processCPU is unavailable here; benchmarks then skip cpu-ns/op.
func processCPU() time.Duration { return 0 }
