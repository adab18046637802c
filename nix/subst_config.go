package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	neturl "net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// A host substitutes from the caches its own nix.conf names and accepts
// their paths only when signed by a key it trusts, so whether a fleet's
// cache can serve a host is read from the host's Nix, not assumed.
// `nix show-config --json` prints the settings in force (nix.conf,
// NIX_CONFIG and all): under Nix 2.8 it needs the nix-command feature,
// which NixCmd switches on; current Nix (2.26 in the lab) calls it
// `nix config show` and still answers to `show-config`, with a
// deprecation warning on stderr, so one command reads both.

// SubstConfig is what a host's Nix substitutes from.
type SubstConfig struct {
	// Substituters are the caches' URLs (the `substituters` setting).
	Substituters []string
	// TrustedKeys are the keys a substituted path may be signed with
	// (`trusted-public-keys`).
	TrustedKeys []string
	// RequireSigs is `require-sigs`: when false, unsigned paths are taken.
	RequireSigs bool
}

// Cache statuses: whether a host can substitute from a fleet's cache.
const (
	CacheOK             = "cache ok"
	CacheNotSubstituter = "not in substituters"
	CacheKeyNotTrusted  = "key not trusted"
)

const (
	// maxSubstConfigOutput bounds `nix show-config --json` (about 40 KiB
	// under Nix 2.8, 110 KiB under 2.26, mostly the settings' help).
	maxSubstConfigOutput = 1 << 20
	// maxSubstEntries and maxSubstEntry bound the lists read from it.
	maxSubstEntries = 256
	maxSubstEntry   = 4096
)

// substConfigArgv reads a host's Nix settings.
var substConfigArgv = NixCmd("show-config", "--json")

// ReadSubstituters reads r's substituters, trusted keys and require-sigs.
func ReadSubstituters(ctx context.Context, r Runner) (SubstConfig, error) {
	var out bytes.Buffer
	if err := r.Run(ctx, Cmd{Argv: substConfigArgv, Stdout: &out, MaxOutput: maxSubstConfigOutput}); err != nil {
		return SubstConfig{}, fmt.Errorf("read the Nix settings: %w", err)
	}
	c, err := parseSubstConfig(out.Bytes())
	if err != nil {
		return SubstConfig{}, fmt.Errorf("read the Nix settings: nix show-config --json: %w", err)
	}
	return c, nil
}

// parseSubstConfig reads the three settings from show-config's JSON:
// each is an object whose "value" is the setting in force.
func parseSubstConfig(b []byte) (SubstConfig, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return SubstConfig{}, err
	}
	var c SubstConfig
	var err error
	if c.Substituters, err = settingList(all, "substituters"); err != nil {
		return SubstConfig{}, err
	}
	if c.TrustedKeys, err = settingList(all, "trusted-public-keys"); err != nil {
		return SubstConfig{}, err
	}
	var sigs struct{ Value *bool }
	if raw, ok := all["require-sigs"]; !ok || json.Unmarshal(raw, &sigs) != nil || sigs.Value == nil {
		return SubstConfig{}, fmt.Errorf("require-sigs: not a setting with a boolean value")
	}
	c.RequireSigs = *sigs.Value
	return c, nil
}

// settingList is the list value of setting name, checked: a bounded
// number of bounded, printable strings.
func settingList(all map[string]json.RawMessage, name string) ([]string, error) {
	var s struct{ Value *[]string }
	raw, ok := all[name]
	if !ok || json.Unmarshal(raw, &s) != nil || s.Value == nil {
		return nil, fmt.Errorf("%s: not a setting with a list value", name)
	}
	if len(*s.Value) > maxSubstEntries {
		return nil, fmt.Errorf("%s: %d entries (at most %d expected)", name, len(*s.Value), maxSubstEntries)
	}
	for _, v := range *s.Value {
		if len(v) > maxSubstEntry || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("%s: an entry that is not a URL or key (%d bytes)", name, len(v))
		}
	}
	return *s.Value, nil
}

// CacheStatus says whether a host with this configuration substitutes
// from the cache at url and takes the paths signed with key ("" when the
// cache names no key): CacheOK, CacheNotSubstituter or CacheKeyNotTrusted.
// URLs compare as sameCache does.
func (c SubstConfig) CacheStatus(url, key string) string {
	found := slices.ContainsFunc(c.Substituters, func(s string) bool { return sameCache(s, url) })
	switch {
	case !found:
		return CacheNotSubstituter
	case c.RequireSigs && (key == "" || !slices.Contains(c.TrustedKeys, key)):
		return CacheKeyNotTrusted
	}
	return CacheOK
}

// sameCache reports whether two substituter URLs name the same cache:
// the same scheme, host and path. A trailing slash does not matter (Nix
// stores the URL either way), nor do the store parameters a host may add
// (`?priority=40`, `?trusted=1`), nor the case of scheme and host. A URL
// that does not parse compares as written, without a trailing slash.
func sameCache(a, b string) bool {
	return cacheKey(a) == cacheKey(b)
}

func cacheKey(s string) string {
	u, err := neturl.Parse(s)
	if err != nil || u.Scheme == "" {
		return strings.TrimRight(s, "/")
	}
	p := u.Path
	if u.Opaque != "" {
		p = u.Opaque
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(p, "/")
}
