package nix

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Building on a builder goes through Nix's own remote-store machinery
// (ssh-ng://), so it is Nix that runs the system's ssh, not nixdeck's
// in-process client. That ssh must reach the builder exactly as the
// fleet file says — its address, port, user, key, known_hosts with strict
// checking, bastions — and nothing from the fleet file may become an ssh
// option of its own. So nixdeck writes one ssh_config for the builder, in
// a private directory, with every value validated and quoted, and gives
// it to Nix's ssh as NIX_SSHOPTS="-F FILE". Nix splits NIX_SSHOPTS at
// white space, hence a file and not options, and a file path without any.
// The store URI names the builder's host itself (ssh-ng://build01), so
// the operator's ssh_config, included last, applies to it as to a node.

// SSHHost is how Nix's ssh reaches a builder: the fleet file's connection
// keys. Zero fields are left to the operator's ssh_config (Include) and
// ssh's defaults.
type SSHHost struct {
	// Name names the builder in errors ("builder:big").
	Name string
	// Host is the DNS name or address dialled.
	Host string
	// Port is the SSH port; 0 means ssh's default.
	Port int
	// User is the login user; "" means ssh's default.
	User string
	// Identity is a private key file (absolute path); "" means ssh's defaults.
	Identity string
	// KnownHosts is the known_hosts file, checked strictly; "" means
	// ~/.ssh/known_hosts.
	KnownHosts string
	// Jump is ProxyJump: "[user@]host[:port]", comma-separated, outermost
	// first; "" means none.
	Jump string
	// Include, when set, is the operator's ssh_config, read after the
	// fleet file's values (which win) for what they leave open.
	Include string
}

// sshAlias is the Host alias the generated file defines for a builder
// whose host is an address with colons (IPv6), which a store URI cannot
// carry; the store URI names it.
const sshAlias = "nixdeck-builder"

// sshNameRE is a host name that is its own alias: ssh_config's Host
// blocks for it (the operator's, included) apply as they do to nodes, a
// HostName among them.
var sshNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// aliasOf is the Host alias, and store URI host, for h.
func aliasOf(h SSHHost) string {
	if sshNameRE.MatchString(h.Host) {
		return h.Host
	}
	return sshAlias
}

// sshHostRE is a host name or address ssh takes as it is: no option
// (leading '-'), no token ('%'), no quote or white space.
var sshHostRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._:-]*$|^\[[0-9A-Fa-f:.]+\]$`)

// sshUserRE is a login name that is only a login name.
var sshUserRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// SSHConfig renders h as an ssh_config file: the alias with the fleet
// file's values, then, for every host (the alias and its bastions),
// strict host key checking against KnownHosts and no prompts. It refuses
// a value that ssh would read as more than the value.
func SSHConfig(h SSHHost) (string, error) {
	fail := func(key, v string) error {
		return fmt.Errorf("%s: %s %s cannot be given to ssh", h.Name, key, excerpt(v))
	}
	if !sshHostRE.MatchString(h.Host) {
		return "", fail("host", h.Host)
	}
	var b strings.Builder
	b.WriteString("# Written by nixdeck for Nix's ssh to one builder; removed after the build.\n")
	if alias := aliasOf(h); alias == h.Host {
		fmt.Fprintf(&b, "Host %s\n", alias)
	} else {
		fmt.Fprintf(&b, "Host %s\n  HostName %s\n", alias, h.Host)
	}
	if h.Port != 0 {
		if h.Port < 0 || h.Port > 65535 {
			return "", fail("port", strconv.Itoa(h.Port))
		}
		fmt.Fprintf(&b, "  Port %d\n", h.Port)
	}
	if h.User != "" {
		if !sshUserRE.MatchString(h.User) {
			return "", fail("user", h.User)
		}
		fmt.Fprintf(&b, "  User %s\n", h.User)
	}
	if h.Jump != "" {
		if err := checkJump(h.Jump); err != nil {
			return "", fail("jump", h.Jump)
		}
		fmt.Fprintf(&b, "  ProxyJump %s\n", h.Jump)
	}
	b.WriteString("Host *\n  StrictHostKeyChecking yes\n  BatchMode yes\n")
	if h.Identity != "" {
		v, err := sshPath(h.Identity)
		if err != nil {
			return "", fail("identity", h.Identity)
		}
		fmt.Fprintf(&b, "  IdentityFile %s\n", v)
	}
	if h.KnownHosts != "" {
		v, err := sshPath(h.KnownHosts)
		if err != nil {
			return "", fail("known_hosts", h.KnownHosts)
		}
		fmt.Fprintf(&b, "  UserKnownHostsFile %s\n", v)
	}
	if h.Include != "" {
		v, err := sshPath(h.Include)
		if err != nil {
			return "", fail("ssh_config", h.Include)
		}
		// Include reads globs, not tokens: its %% would stay doubled.
		fmt.Fprintf(&b, "  Include %s\n", strings.ReplaceAll(v, "%%", "%"))
	}
	return b.String(), nil
}

// checkJump accepts a ProxyJump chain of [user@]host[:port] hops.
func checkJump(jump string) error {
	for _, hop := range strings.Split(jump, ",") {
		if u, rest, ok := strings.Cut(hop, "@"); ok {
			if !sshUserRE.MatchString(u) {
				return errors.New("bad user")
			}
			hop = rest
		}
		host := hop
		if i := strings.LastIndexByte(hop, ':'); i >= 0 && !strings.HasSuffix(hop, "]") && strings.Count(hop, ":") == 1 {
			host = hop[:i]
			if p, err := strconv.Atoi(hop[i+1:]); err != nil || p <= 0 || p > 65535 {
				return errors.New("bad port")
			}
		}
		if !sshHostRE.MatchString(host) {
			return errors.New("bad host")
		}
	}
	return nil
}

// sshPath quotes an absolute file path for an ssh_config keyword that
// expands tokens (%) and environment variables (${}): '%' is doubled,
// and a path ssh would read otherwise (relative, '~', '$', quotes,
// control characters) is refused.
func sshPath(p string) (string, error) {
	if !filepath.IsAbs(p) || strings.ContainsAny(p, "\"\\$`") {
		return "", errors.New("not a plain absolute path")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", errors.New("control character")
		}
	}
	return sshQuote(strings.ReplaceAll(p, "%", "%%")), nil
}

// sshQuote puts a checked path in double quotes, so white space in it
// stays part of it. Names (host, user, jump) go unquoted: their
// patterns leave nothing to quote, and ssh refuses a quoted ProxyJump.
func sshQuote(v string) string { return `"` + v + `"` }

// SSHSession is a generated ssh_config on disk for Nix's ssh: Store is
// the store URI that reaches the builder through it, Env the environment
// a local command needs for that.
type SSHSession struct {
	Store string
	Env   []string
	dir   string
}

// WriteSSHConfig writes h's ssh_config in a new private directory under
// dir ("" for the system's temporary directory). Close removes it.
func WriteSSHConfig(h SSHHost, dir string) (*SSHSession, error) {
	text, err := SSHConfig(h)
	if err != nil {
		return nil, err
	}
	d, err := os.MkdirTemp(dir, "nixdeck-ssh-")
	if err != nil {
		return nil, fmt.Errorf("%s: ssh config: %w", h.Name, err)
	}
	file := filepath.Join(d, "ssh_config")
	if strings.ContainsAny(file, " \t\n\r") {
		os.RemoveAll(d)
		return nil, fmt.Errorf("%s: ssh config: the directory %s holds white space, which NIX_SSHOPTS cannot carry", h.Name, excerpt(d))
	}
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		os.RemoveAll(d)
		return nil, fmt.Errorf("%s: ssh config: %w", h.Name, err)
	}
	return &SSHSession{Store: "ssh-ng://" + aliasOf(h), Env: []string{"NIX_SSHOPTS=-F " + file}, dir: d}, nil
}

// Close removes the generated ssh_config.
func (s *SSHSession) Close() error { return os.RemoveAll(s.dir) }
