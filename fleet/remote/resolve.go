package remote

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// endpoint is a Target after ~/.ssh/config and defaults were applied:
// everything needed to dial, authenticate and check the host key.
type endpoint struct {
	name       string   // node name for errors
	host       string   // network host name or address (HostName applied)
	port       int      // TCP port
	user       string   // login user
	identities []string // key files to try, in order
	explicitID bool     // identities came from the fleet file or ssh_config: missing files are errors
	idNote     string   // why there are no default identities, for the "no keys" error
	knownHosts string   // known_hosts file
	jumps      []string // bastions, outermost first ("[user@]host[:port]")
	sudo       string   // auto | always | never
}

// addr is host:port as dialled and as looked up in known_hosts.
func (e endpoint) addr() string { return net.JoinHostPort(e.host, strconv.Itoa(e.port)) }

// label is "name (addr)" for messages.
func (e endpoint) label() string { return hostLabel(e.name, e.addr()) }

// fail wraps err as an *Error for this endpoint.
func (e endpoint) fail(op string, err error) error {
	return &Error{Name: e.name, Addr: e.addr(), Op: op, Err: err}
}

// sshConfig is the parsed ssh_config file, or nil when there is none.
type sshConfig struct{ cfg *ssh_config.Config }

// loadSSHConfig reads the ssh_config named by Options.SSHConfigPath. A
// missing default ~/.ssh/config is not an error; a missing explicit one is.
func loadSSHConfig(path string) (sshConfig, error) {
	if path == "none" {
		return sshConfig{}, nil
	}
	explicit := path != ""
	if !explicit {
		// Without a home directory there is no user ssh_config, as with
		// `ssh -F none`; the files that matter (known_hosts, keys) report
		// the missing $HOME themselves.
		home, err := HomeDir()
		if err != nil {
			return sshConfig{}, nil
		}
		path = filepath.Join(home, ".ssh", "config")
	}
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) && !explicit {
			return sshConfig{}, nil
		}
		return sshConfig{}, fmt.Errorf("ssh config: %w", err)
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return sshConfig{}, fmt.Errorf("ssh config %s: %w", path, err)
	}
	return sshConfig{cfg: cfg}, nil
}

// get returns the first value of key for host alias, or "".
func (c sshConfig) get(alias, key string) string {
	if c.cfg == nil {
		return ""
	}
	v, _ := c.cfg.Get(alias, key)
	return v
}

// getAll returns every value of key for host alias.
func (c sshConfig) getAll(alias, key string) []string {
	if c.cfg == nil {
		return nil
	}
	v, _ := c.cfg.GetAll(alias, key)
	return v
}

// defaultIdentities are the key files tried when nothing names one.
var defaultIdentities = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// resolve applies ssh_config and the built-in defaults to t. Fields set in
// t win over ssh_config, which wins over the defaults.
func resolve(t Target, cfg sshConfig) (endpoint, error) {
	alias := t.Host
	e := endpoint{name: t.Name, host: alias, port: t.Port, user: t.User, knownHosts: t.KnownHosts}
	if e.name == "" {
		e.name = alias
	}
	if alias == "" {
		return e, fmt.Errorf("%s: no host to connect to", e.name)
	}
	if hn := cfg.get(alias, "HostName"); hn != "" {
		h, err := expandTokens(hn, hostNameTokens(alias))
		if err != nil {
			return e, fmt.Errorf("%s: ssh config HostName %s: %w", e.name, hn, err)
		}
		e.host = h
	}
	if e.port == 0 {
		if p := cfg.get(alias, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return e, fmt.Errorf("%s: ssh config: bad Port %q for %s", e.name, p, alias)
			}
			e.port = n
		} else {
			e.port = 22
		}
	}
	if e.user == "" {
		e.user = cfg.get(alias, "User")
	}
	if e.user == "" {
		e.user = "root"
	}
	if err := e.keyFiles(t, cfg, alias); err != nil {
		return e, err
	}
	jump := t.Jump
	if jump == "" {
		jump = cfg.get(alias, "ProxyJump")
	}
	if jump != "" && jump != "none" {
		for _, j := range strings.Split(jump, ",") {
			if j = strings.TrimSpace(j); j != "" {
				e.jumps = append(e.jumps, j)
			}
		}
	}
	switch t.Sudo {
	case "", "auto":
		e.sudo = "auto"
	case "always", "never":
		e.sudo = t.Sudo
	default:
		return e, fmt.Errorf("%s: sudo mode %q: want auto, always or never", e.name, t.Sudo)
	}
	return e, nil
}

// jumpTarget parses a ProxyJump hop "[user@]host[:port]" (an ssh:// URL
// prefix is accepted too) into a Target that shares the node's
// known_hosts and identity. Its name does not mention the node, so that
// a Pool shares one bastion connection between the nodes behind it.
func jumpTarget(spec string, node Target) (Target, error) {
	s := strings.TrimPrefix(spec, "ssh://")
	t := Target{Name: "jump " + s, KnownHosts: node.KnownHosts, Identity: node.Identity, Sudo: "never", Jump: "none"}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		t.User, s = s[:i], s[i+1:]
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: the whole thing is the host (possibly a bracketed IPv6).
		host = strings.Trim(s, "[]")
	} else {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return t, fmt.Errorf("%s: jump host %q: bad port", node.Name, spec)
		}
		t.Port = n
	}
	if host == "" {
		return t, fmt.Errorf("%s: jump host %q: no host", node.Name, spec)
	}
	t.Host = host
	return t, nil
}

// keyFiles sets the identity files and the known_hosts file: the
// target's, else ssh_config's IdentityFile, else the default ~/.ssh files.
// Without a home directory a ~ path is an error naming what is missing,
// never a path relative to the working directory; the default identities
// are then skipped (ssh-agent keys may still do) with a note saying why.
func (e *endpoint) keyFiles(t Target, cfg sshConfig, alias string) error {
	home, homeErr := HomeDir()
	// expand resolves a leading ~ and, in ssh_config values, the %-tokens
	// (see tokens.go).
	tokens := e.pathTokens(alias, cfg.get(alias, "HostKeyAlias"), home, homeErr)
	expand := func(what, p string, withTokens bool) (string, error) {
		tilde := p == "~" || strings.HasPrefix(p, "~/")
		if homeErr != nil && tilde {
			return "", fmt.Errorf("%s: %s %s: cannot find the home directory: %v", e.name, what, p, homeErr)
		}
		if withTokens {
			x, err := expandTokens(p, tokens)
			if err != nil {
				return "", fmt.Errorf("%s: %s %s: %w", e.name, what, p, err)
			}
			p = x
		}
		if tilde {
			p = filepath.Join(home, strings.TrimPrefix(p[1:], "/"))
		}
		return p, nil
	}
	switch ids := cfg.getAll(alias, "IdentityFile"); {
	case t.Identity != "":
		id, err := expand("identity", t.Identity, false)
		if err != nil {
			return err
		}
		e.identities, e.explicitID = []string{id}, true
	case len(ids) > 0:
		for _, f := range ids {
			id, err := expand("ssh config IdentityFile", f, true)
			if err != nil {
				return err
			}
			e.identities = append(e.identities, id)
		}
		e.explicitID = true
	case homeErr != nil:
		e.idNote = fmt.Sprintf("no default identity files (~/.ssh/id_*): %v", homeErr)
	default:
		for _, f := range defaultIdentities {
			e.identities = append(e.identities, filepath.Join(home, ".ssh", f))
		}
	}
	if e.knownHosts == "" {
		if homeErr != nil {
			return fmt.Errorf("%s: cannot find ~/.ssh/known_hosts: %v; set HOME, or known_hosts in the fleet file", e.name, homeErr)
		}
		e.knownHosts = filepath.Join(home, ".ssh", "known_hosts")
		return nil
	}
	kh, err := expand("known_hosts", e.knownHosts, false)
	e.knownHosts = kh
	return err
}
