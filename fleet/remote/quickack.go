package remote

import "net"

// Why nixdeck acknowledges at once what the host sends.
//
// OpenSSH's sshd leaves Nagle's algorithm on until the first session
// starts: it sets TCP_NODELAY in ssh_packet_set_interactive, which
// session.c calls when a command is executed. Before that, right after
// authentication, sshd sends two small packets in a row without waiting
// for the client: the hostkeys-00@openssh.com notice, then the
// confirmation of the first session's channel. Nagle holds the second
// until the first is acknowledged, and the client's kernel delays that
// acknowledgement (40 ms on Linux) because the client has nothing to
// send back while it waits for the confirmation. So the first command
// on every new connection waited 40 ms for nothing. OpenSSH's client
// waits the same (and once more during its handshake, before it sets
// TCP_NODELAY on its own socket).
//
// Setting TCP_QUICKACK after a read sends the pending acknowledgement at
// once. Linux clears the option on its own as traffic goes on, so it is
// set again after every read that returned data: one setsockopt per
// read, against a 40 ms stall whenever a server sends two small writes
// before we answer. Jump-host channels are not sockets and keep the
// bastion's behaviour; the bastion's own connection benefits.

// quickAck is whether dial wraps TCP connections with quickAckConn; the
// benchmarks turn it off to measure the stall it removes.
var quickAck = true

// withQuickAck returns nc, wrapped so that every read acknowledges at
// once when nc is a TCP connection on a system that supports it.
func withQuickAck(nc net.Conn) net.Conn {
	if !quickAck {
		return nc
	}
	return quickAckConn(nc)
}
