package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"nixdeck/internal/tail"
)

// A lab with Options.Cache has a binary cache as operators run one: a
// file:// binary cache directory that `nix copy` pushes to, signed with the
// lab's own key pair, served over HTTP on 127.0.0.1 by nginx
// (cacheserver.go), and named in every host's nix.conf as its substituter,
// with the key among its trusted-public-keys (nixconf.go). The server's
// access log tells which host fetched what (CacheFetches).

// Cache is a lab's binary cache.
type Cache struct {
	// Dir is the binary cache directory (nix-cache-info, *.narinfo, nar/).
	Dir string `json:"dir"`
	// PushURI is the Nix store URI that pushes to the cache, file://Dir;
	// sign with SecretKey (`nix copy --to 'PushURI?secret-key=SecretKey'`).
	PushURI string `json:"push_uri"`
	// URL is where the hosts substitute from, http://127.0.0.1:Port.
	URL string `json:"url"`
	// Port is the HTTP server's port on 127.0.0.1; it keeps it across
	// StopCache and StartCache, as the hosts' nix.conf names it.
	Port int `json:"port"`
	// PublicKey is the cache's key as trusted-public-keys lists it
	// ("nixdeck-lab-1:base64").
	PublicKey string `json:"public_key"`
	// SecretKey is the file of the key that signs the cache's paths.
	SecretKey string `json:"secret_key"`
	// AccessLog is the HTTP server's access log, one JSON object a request.
	AccessLog string `json:"access_log"`
}

// cacheKeyName is the name of the lab cache's signing key.
const cacheKeyName = "nixdeck-lab-1"

// cacheManifestName is the file in Dir that records the lab's cache.
const cacheManifestName = "cache.json"

// cacheInfo is the cache's nix-cache-info: `nix copy` writes only
// StoreDir when the file is missing; a cache served over HTTP says it
// answers bulk queries and comes after cache.nixos.org (40) in priority
// order, as nix-serve and attic do.
const cacheInfo = "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 41\n"

// Cache returns the lab's binary cache; an error when the lab has none.
func (l *Lab) Cache() (*Cache, error) {
	b, err := os.ReadFile(filepath.Join(l.Dir, cacheManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab %s has no binary cache (lab up --cache makes one)", l.Dir)
	}
	if err != nil {
		return nil, err
	}
	c := &Cache{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(l.Dir, cacheManifestName), err)
	}
	return c, nil
}

// cacheOrNil is the lab's cache, nil when it has none.
func (l *Lab) cacheOrNil() *Cache {
	c, err := l.Cache()
	if err != nil {
		return nil
	}
	return c
}

// createCache makes the lab's cache: its key pair, made by Nix itself
// (`nix-store --generate-binary-cache-key`, which Nix 2.8 has), the cache
// directory and its server on a free port.
func (l *Lab) createCache(ctx context.Context) (*Cache, error) {
	c := &Cache{
		Dir:       filepath.Join(l.Dir, "cache"),
		SecretKey: filepath.Join(l.Dir, "cache-key.sec"),
		AccessLog: filepath.Join(l.serverDir(), "access.log"),
	}
	c.PushURI = "file://" + c.Dir
	pub := filepath.Join(l.Dir, "cache-key.pub")
	for _, f := range []string{c.SecretKey, pub} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	out, err := exec.CommandContext(ctx, "nix-store", "--generate-binary-cache-key", cacheKeyName, c.SecretKey, pub).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("lab: cache key: nix-store --generate-binary-cache-key: %w: %s", err, tail.LastLines(string(out), 5))
	}
	b, err := os.ReadFile(pub)
	if err != nil {
		return nil, err
	}
	c.PublicKey = strings.TrimSpace(string(b))
	if name, _, ok := strings.Cut(c.PublicKey, ":"); !ok || name != cacheKeyName {
		return nil, fmt.Errorf("lab: cache key: %s holds %q, not a %s key", pub, tail.LastLines(c.PublicKey, 1), cacheKeyName)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "nix-cache-info"), []byte(cacheInfo), 0o644); err != nil {
		return nil, err
	}
	if c.Port, err = l.startServer(ctx, 0); err != nil {
		return nil, err
	}
	c.URL = fmt.Sprintf("http://127.0.0.1:%d", c.Port)
	b, err = json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return c, writeFileAtomic(filepath.Join(l.Dir, cacheManifestName), append(b, '\n'), 0o644)
}

// StopCache stops the cache's HTTP server, as when a real cache is down:
// hosts that substitute from it fail to reach it. StartCache starts it again.
func (l *Lab) StopCache() error {
	if _, err := l.Cache(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return l.stopServer(ctx)
}

// CacheServing reports whether the cache's HTTP server is running.
func (l *Lab) CacheServing() bool { return len(l.serverPids()) > 0 }

// StartCache starts the cache's HTTP server again on its port, unless it
// is running.
func (l *Lab) StartCache() error {
	c, err := l.Cache()
	if err != nil {
		return err
	}
	if l.CacheServing() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = l.startServer(ctx, c.Port)
	return err
}

// SetCacheTrust makes the hosts that sel selects (as Select does) trust
// the cache's key (trust true, as after `lab up --cache`) or trust no key
// (false): their Nix then refuses every path from the cache, as it refuses
// a cache signed by a key it does not know. It rewrites their nix.conf and
// restarts their Nix daemon, which reads it only when it starts.
func (l *Lab) SetCacheTrust(sel string, trust bool) error {
	c, err := l.Cache()
	if err != nil {
		return err
	}
	names, err := l.Select(sel)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range l.Hosts {
		h := &l.Hosts[i]
		if !slices.Contains(names, h.Name) {
			continue
		}
		h.CacheUntrusted = !trust
		if err := l.writeNixConf(*h, c); err != nil {
			return err
		}
		if err := l.restartDaemon(ctx, h.Name); err != nil {
			return err
		}
	}
	return l.save()
}
