package devstack

import (
	"fmt"
	"net"
	"strings"
)

// FreePort asks the kernel for a TCP port free on 127.0.0.1. The port is
// released before returning, so another process may take it before the
// server binds it; the Start functions retry with fresh ports when a server
// they gave a free port to reports the address in use.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// addrInUse reports whether a server's log says it could not bind its port.
func addrInUse(log string) bool {
	return strings.Contains(log, "address already in use")
}
