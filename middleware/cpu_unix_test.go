//go:build unix

package middleware

import (
	"syscall"
	"time"
)

// processCPU is the user and system time this process has used, so
// benchmarks can report CPU per operation alongside wall-clock time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
