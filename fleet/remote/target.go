// Package remote is nixdeck's in-process SSH transport (golang.org/x/crypto/ssh):
// strict host-key checking, agent and key-file auth, ~/.ssh/config, jump
// hosts, bounded waits, keepalives, and commands whose output is streamed.
package remote

// Target says how to reach one host. A zero value in a field means the
// fleet file did not say: ~/.ssh/config is consulted next, then built-in
// defaults (user root, port 22, the usual ~/.ssh/id_* files).
type Target struct {
	// Name is the node name, used in every error about this host.
	Name string
	// Host is a DNS name, an address or a ~/.ssh/config Host alias.
	Host string
	// Port is the SSH port; 0 means not set.
	Port int
	// User is the login user; "" means not set.
	User string
	// Identity is a private key file; "" means not set. ssh-agent keys are tried too.
	Identity string
	// KnownHosts is the known_hosts file checked strictly; "" means ~/.ssh/known_hosts.
	KnownHosts string
	// Jump is a bastion, "[user@]host[:port]", or a comma-separated chain
	// of them, outermost first; "" means none (or ~/.ssh/config's
	// ProxyJump), and "none" ignores ProxyJump too.
	Jump string
	// Sudo is "auto" (sudo -n when the user is not root), "always" or "never"; "" means auto.
	Sudo string
}
