//go:build !linux

package remote

import "net"

// quickAckConn returns nc unchanged: TCP_QUICKACK is Linux's (see
// quickack.go).
func quickAckConn(nc net.Conn) net.Conn { return nc }
