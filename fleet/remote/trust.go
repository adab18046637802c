package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKey is a host key seen by Scan, for `nixdeck trust` to show and,
// after confirmation, record.
type HostKey struct {
	// Name is the node name, or "jump HOST" for a bastion on the way.
	Name string
	// Addr is the host:port the key belongs to, as known_hosts records it.
	Addr string
	// Key is the host's (plain) public key; Fingerprint its SHA256 form.
	Key         ssh.PublicKey
	Fingerprint string
	// KnownHosts is the file the key belongs in.
	KnownHosts string
	// Known is true when the file already holds this key for Addr.
	Known bool
}

// Type names the key type as ssh-keygen -l does ("ED25519").
func (k HostKey) Type() string { return keyKind(k.Key) }

// errScanned stops a scanning handshake once the host key was seen.
var errScanned = errors.New("host key scanned")

// Scan connects to t just far enough to see its host key, without
// authenticating to it. Jump hosts on the way must let us log in (to
// forward); their keys, when unknown, are accepted for this scan only and
// returned too, bastions first. A changed or revoked key is never
// accepted: Scan returns the *HostKeyError.
func Scan(ctx context.Context, t Target, o Options) ([]HostKey, error) {
	var mu sync.Mutex
	var seen []HostKey
	d := &dialer{opts: o.withDefaults(), accept: func(he *HostKeyError) bool {
		if he.Kind != HostKeyUnknown {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, HostKey{Name: he.Name, Addr: he.Addr, Key: he.Key, Fingerprint: he.Fingerprint, KnownHosts: he.KnownHosts})
		return true
	}}
	ep, hk, nc, owned, err := d.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, j := range owned {
			j.Close()
		}
	}()
	algos := hk.algorithms(ep.addr())
	if algos == nil {
		// No plain key known: a certificate first, which an
		// @cert-authority line may vouch for (then nothing is new), else
		// Ed25519 as OpenSSH prefers. What gets recorded is always the
		// plain key, the certificate's own key included.
		algos = scanAlgorithms()
	}
	var found *HostKey
	var keyErr error
	cfg := &ssh.ClientConfig{
		User:              ep.user,
		HostKeyAlgorithms: algos,
		HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			keyErr = hk.verify(ep.name, ep.addr(), remote, key)
			var he *HostKeyError
			switch {
			case keyErr == nil:
				plain := key
				if c, ok := key.(*ssh.Certificate); ok {
					plain = c.Key
				}
				found = &HostKey{Name: ep.name, Addr: ep.addr(), Key: plain, Fingerprint: ssh.FingerprintSHA256(plain), KnownHosts: ep.knownHosts, Known: true}
			case errors.As(keyErr, &he) && he.Kind == HostKeyUnknown:
				found = &HostKey{Name: ep.name, Addr: ep.addr(), Key: he.Key, Fingerprint: he.Fingerprint, KnownHosts: ep.knownHosts}
			}
			return errScanned
		},
	}
	_, _, _, err = handshake(ctx, nc, ep, cfg, d.opts.HandshakeTimeout)
	if found == nil {
		var he *HostKeyError
		if errors.As(keyErr, &he) {
			return nil, keyErr
		}
		return nil, ep.fail("handshake", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return append(seen, *found), nil
}

// AppendKnownHosts records keys in their known_hosts files (creating file
// and directory), as "[host]:port" for ports other than 22, or hashed like
// ssh-keygen -H when hash is set. Each key is checked against the file
// again first: one already there is skipped, and one whose host now has
// another key is refused; existing lines are never rewritten. It returns
// how many lines were added.
func AppendKnownHosts(keys []HostKey, hash bool) (int, error) {
	added := 0
	for _, k := range keys {
		hk, err := loadHostKeys(k.KnownHosts)
		if err != nil {
			return added, err
		}
		if err := hk.verify(k.Name, k.Addr, nil, k.Key); err == nil {
			continue
		} else if he := (*HostKeyError)(nil); !errors.As(err, &he) || he.Kind != HostKeyUnknown {
			return added, err
		}
		if err := appendLine(k.KnownHosts, knownHostsLine(k.Addr, k.Key, hash)); err != nil {
			return added, fmt.Errorf("%s: %w", hostLabel(k.Name, k.Addr), err)
		}
		added++
	}
	return added, nil
}

// knownHostsLine renders one known_hosts entry.
func knownHostsLine(addr string, key ssh.PublicKey, hash bool) string {
	if !hash {
		return knownhosts.Line([]string{addr}, key)
	}
	return knownhosts.HashHostname(knownhosts.Normalize(addr)) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// appendLine appends line to file, after a newline if the file lacks a
// final one.
func appendLine(file, line string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		return fmt.Errorf("known_hosts %s: %w", file, err)
	}
	return f.Close()
}
