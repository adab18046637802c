package remote

import "time"

// Options bound every wait of the transport. Zero fields take the defaults
// listed on each field.
type Options struct {
	// DialTimeout bounds the TCP connect (and, through a jump host, the
	// direct-tcpip channel open); default 10s.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the SSH handshake and authentication; default 15s.
	HandshakeTimeout time.Duration
	// KeepAliveInterval is how often keepalive@openssh.com is sent; default 15s.
	KeepAliveInterval time.Duration
	// KeepAliveMaxMissed is how many unanswered keepalives close the
	// connection; default 3.
	KeepAliveMaxMissed int
	// SSHConfigPath is the ssh_config file consulted for HostName, User,
	// Port, IdentityFile and ProxyJump: "" means ~/.ssh/config, "none" turns
	// it off.
	SSHConfigPath string
}

// DefaultOptions returns the transport's defaults: dial 10s, handshake 15s,
// keepalive every 15s, closed after 3 misses, ~/.ssh/config consulted.
func DefaultOptions() Options {
	return Options{
		DialTimeout:        10 * time.Second,
		HandshakeTimeout:   15 * time.Second,
		KeepAliveInterval:  15 * time.Second,
		KeepAliveMaxMissed: 3,
	}
}

// withDefaults fills the zero fields of o from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.DialTimeout <= 0 {
		o.DialTimeout = d.DialTimeout
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = d.HandshakeTimeout
	}
	if o.KeepAliveInterval <= 0 {
		o.KeepAliveInterval = d.KeepAliveInterval
	}
	if o.KeepAliveMaxMissed <= 0 {
		o.KeepAliveMaxMissed = d.KeepAliveMaxMissed
	}
	return o
}
