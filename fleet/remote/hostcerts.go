package remote

import (
	"bytes"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// x/crypto's knownhosts matches a pattern's host and port apart, and a
// pattern without a port means port 22: `@cert-authority *` then covers
// no host on another port. OpenSSH matches patterns against the name as
// known_hosts writes it ("[host]:port"), so there `*` covers every host.
// The @cert-authority lines are therefore also read here, to vouch for a
// certificate the OpenSSH way when knownhosts did not.

// authority is one @cert-authority line: its host patterns and key.
type authority struct {
	patterns []string
	key      ssh.PublicKey
}

// certAuthorities numbers the @cert-authority lines of a known_hosts file
// the way knownhosts does (1-based, every line counted) and parses those
// with plain (not hashed) patterns.
func certAuthorities(data []byte) (map[int]bool, []authority) {
	lines := map[int]bool{}
	var auths []authority
	for i, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 4 || fields[0] != "@cert-authority" {
			continue
		}
		lines[i+1] = true
		if strings.HasPrefix(fields[1], "|") {
			continue // hashed: knownhosts matches those
		}
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.Join(fields[2:], " ")))
		if err == nil {
			auths = append(auths, authority{patterns: strings.Split(fields[1], ","), key: key})
		}
	}
	return lines, auths
}

// covers reports whether the authority's patterns match addr as OpenSSH
// does: a negated pattern that matches wins over any other.
func (a authority) covers(addr string) bool {
	name := strings.ToLower(knownhosts.Normalize(addr))
	found := false
	for _, p := range a.patterns {
		neg := strings.HasPrefix(p, "!")
		if wildcardMatch(strings.ToLower(strings.TrimPrefix(p, "!")), name) {
			if neg {
				return false
			}
			found = true
		}
	}
	return found
}

// authorityFor reports whether some @cert-authority line covers addr.
func (h *hostKeys) authorityFor(addr string) bool {
	for _, a := range h.auths {
		if a.covers(addr) {
			return true
		}
	}
	return false
}

// vouched reports whether an authority covering addr signed cert, and the
// certificate is valid for the host now.
func (h *hostKeys) vouched(addr string, remote net.Addr, cert *ssh.Certificate) bool {
	for _, a := range h.auths {
		if !a.covers(addr) || !bytes.Equal(a.key.Marshal(), cert.SignatureKey.Marshal()) {
			continue
		}
		checker := &ssh.CertChecker{IsHostAuthority: func(ssh.PublicKey, string) bool { return true }}
		if checker.CheckHostKey(addr, remote, cert) == nil {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against an OpenSSH pattern of `*` (any run) and
// `?` (any one character); every other character, `[` included, is itself.
func wildcardMatch(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcardMatch(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}
