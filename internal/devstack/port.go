package devstack

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Where FreePort looks first: below the kernel's ephemeral range.
const (
	lowestPort   = 10000
	pickAttempts = 64
)

// FreePort returns a TCP port free on 127.0.0.1. The port is released
// before returning, so another process may take it before the server binds
// it; the Start functions retry with fresh ports when a server they gave a
// free port to reports the address in use.
//
// It picks at random below the kernel's ephemeral port range when there is
// room there: a port from the ephemeral range (what listening on :0 gives)
// can be handed to any outgoing connection of a busy test machine in the
// time between being picked and being bound, which made parallel tests
// fail with "address already in use". Below the range only another
// FreePort caller could take it. Without room (or /proc), it asks the
// kernel as before.
func FreePort() (int, error) {
	if hi := ephemeralLow(); hi-lowestPort > 1000 {
		for range pickAttempts {
			p := lowestPort + rand.IntN(hi-lowestPort)
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
				l.Close()
				return p, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range, or 0
// when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return n
}

// addrInUse reports whether a server's log says it could not bind its port.
func addrInUse(log string) bool {
	return strings.Contains(log, "address already in use")
}
