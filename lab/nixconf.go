package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Every lab host has its own /etc/nix, as real machines do: the host's
// etc/nix directory, bind-mounted over the machine's /etc/nix in its
// namespace (nsSetup) or its root's (createNS). Its nix.conf is what the
// host's Nix daemon and every command on the host read: sessions and Exec
// name a user configuration file too (NIX_USER_CONF_FILES, which keeps
// Nix off the caller's ~/.config), but it holds nothing, so that it cannot
// override the host's own substituters and keys. The directory, not the
// file, is mounted: nix.conf is replaced by a rename, which the host sees
// at once.

// baseNixConf is what every host's nix.conf says. It keeps hosts off
// binary caches they cannot reach and stops each host's store from
// reserving 8 MiB of disk for garbage collection. It turns build users
// off: a host's private /nix has its own build-user pool, but the nixbld
// uids are the machine's, and Nix SIGKILLs every process of the build user
// it takes — a build on a lab host would kill the operator's own builds
// running as the same nixbld uid. And it keeps the sandbox off, as Debian's
// nix-bin does on the machine: the lab's derivations build with the
// machine's /bin/sh.
const baseNixConf = "sandbox = false\ngc-reserved-space = 0\nbuild-users-group =\n"

// userNixConf is the user configuration file sessions and Exec name.
const userNixConf = "# nixdeck lab: this host's settings are in /etc/nix/nix.conf\n"

// builderMaxJobs is how many builds a lab builder runs at once (its
// nix.conf max-jobs and its fleet file max_jobs); nodes build one at a time.
const builderMaxJobs = 4

// hostNixConf renders the host's /etc/nix/nix.conf. cache is the lab's
// binary cache, nil without one: the host substitutes from it and trusts
// its key unless the host was made untrusting (SetCacheTrust), when it
// trusts no key at all and so refuses every path the cache offers.
func hostNixConf(h Host, cache *Cache) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# /etc/nix/nix.conf of nixdeck lab host %s (written by nixdeck lab)\n", h.Name)
	b.WriteString(baseNixConf)
	if cache == nil {
		b.WriteString("substituters =\n")
	} else {
		fmt.Fprintf(&b, "substituters = %s\n", cache.URL)
		if h.CacheUntrusted {
			b.WriteString("trusted-public-keys =\n")
		} else {
			fmt.Fprintf(&b, "trusted-public-keys = %s\n", cache.PublicKey)
		}
		// A path looked up before it was pushed must not stay "missing"
		// for an hour, and a cache that is down must fail fast.
		b.WriteString("narinfo-cache-negative-ttl = 0\nconnect-timeout = 5\n")
	}
	if h.Builder {
		fmt.Fprintf(&b, "max-jobs = %d\ncores = 0\n", builderMaxJobs)
	} else {
		b.WriteString("max-jobs = 1\n")
	}
	return b.String()
}

// hostEtcNix is the host's etc/nix directory, seen from outside.
func (l *Lab) hostEtcNix(name string) string { return filepath.Join(l.hostDir(name), "etc", "nix") }

// writeNixConf writes the host's /etc/nix/nix.conf and the empty user
// configuration file in its /run.
func (l *Lab) writeNixConf(h Host, cache *Cache) error {
	if err := os.MkdirAll(l.hostEtcNix(h.Name), 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(l.hostEtcNix(h.Name), "nix.conf"), []byte(hostNixConf(h, cache)), 0o644); err != nil {
		return fmt.Errorf("lab host %s: %w", h.Name, err)
	}
	return os.WriteFile(l.labRun(h.Name, "nix.conf"), []byte(userNixConf), 0o644)
}

// NixConf returns the named host's /etc/nix/nix.conf as the host sees it.
func (l *Lab) NixConf(name string) (string, error) {
	if _, err := l.host(name); err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(l.hostEtcNix(name), "nix.conf"))
	if err != nil {
		return "", fmt.Errorf("lab host %s: %w", name, err)
	}
	return string(b), nil
}
