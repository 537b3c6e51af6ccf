package devstack

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A port from FreePort binds, and lies below the ephemeral range (where no
// outgoing connection can take it) when the kernel says where that is.
func TestFreePortBindsAndAvoidsTheEphemeralRange(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		p, err := FreePort()
		require.NoError(t, err)
		if low-lowestPort > 1000 {
			assert.GreaterOrEqual(t, p, lowestPort)
			assert.Less(t, p, low)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		require.NoError(t, err, "port %d is free", p)
		require.NoError(t, l.Close())
	}
}
