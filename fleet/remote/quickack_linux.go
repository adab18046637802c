package remote

import (
	"net"
	"syscall"
)

// quickAckTCP is a TCP connection whose reads acknowledge at once (see
// quickack.go).
type quickAckTCP struct {
	*net.TCPConn
	raw syscall.RawConn
}

// quickAckConn wraps a TCP connection; other connections pass unchanged.
func quickAckConn(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	return &quickAckTCP{TCPConn: tc, raw: raw}
}

// Read reads from the connection, then sends the acknowledgement of what
// arrived without the delayed-ACK wait. A failure to set the option only
// costs the wait, so it is ignored.
func (c *quickAckTCP) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	if n > 0 {
		_ = c.raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
	return n, err
}
