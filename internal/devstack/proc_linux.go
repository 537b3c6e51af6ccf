package devstack

import "syscall"

// sysProcAttr puts the child in its own process group, so Stop can signal
// everything it spawned, and asks the kernel to kill it if this process dies
// first (a test binary killed by `go test -timeout` must not orphan servers).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
