package nix

import (
	"context"
	"strings"
	"testing"
)

// showConfig28 is the part of Nix 2.8's `nix show-config --json` that
// matters here (the real one has every setting, with its help text).
const showConfig28 = `{"require-sigs":{"aliases":[],"defaultValue":true,"description":"\nIf set...","documentDefault":true,"value":true},
"substituters":{"aliases":["binary-caches"],"defaultValue":["https://cache.nixos.org/"],"value":["http://127.0.0.1:8080/","https://cache.nixos.org/"]},
"trusted-public-keys":{"aliases":["binary-cache-public-keys"],"value":["lab-1:AaNq7Hr55FPAas5RLoNjMR0LH4s7FC1E/M2/tfy73LU="]},
"max-jobs":{"value":1}}`

func TestReadSubstituters(t *testing.T) {
	f := newFakeRunner(t)
	f.expect(NixCmd("show-config", "--json")...).out(showConfig28)
	c, err := ReadSubstituters(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Substituters) != 2 || c.Substituters[0] != "http://127.0.0.1:8080/" || len(c.TrustedKeys) != 1 || !c.RequireSigs {
		t.Errorf("%+v", c)
	}
	key := "lab-1:AaNq7Hr55FPAas5RLoNjMR0LH4s7FC1E/M2/tfy73LU="
	for _, tt := range []struct {
		c        SubstConfig
		url, key string
		want     string
	}{
		{c, "http://127.0.0.1:8080", key, CacheOK},
		{c, "http://127.0.0.1:8081", key, CacheNotSubstituter},
		{c, "http://127.0.0.1:8080/", "other-1:x", CacheKeyNotTrusted},
		{c, "http://127.0.0.1:8080/", "", CacheKeyNotTrusted},
		{SubstConfig{Substituters: c.Substituters}, "http://127.0.0.1:8080/", "other-1:x", CacheOK}, // require-sigs = false
		// The same cache however the host writes it: store parameters,
		// trailing slashes and the case of scheme and host do not matter.
		{SubstConfig{Substituters: []string{"https://Cache.Example.com/?priority=40"}, TrustedKeys: []string{key}, RequireSigs: true},
			"https://cache.example.com", key, CacheOK},
		{SubstConfig{Substituters: []string{"https://cache.example.com/nix//?trusted=1"}, TrustedKeys: []string{key}, RequireSigs: true},
			"https://cache.example.com/nix", key, CacheOK},
		{SubstConfig{Substituters: []string{"file:///srv/cache?compression=zstd"}}, "file:///srv/cache/", "", CacheOK},
		{SubstConfig{Substituters: []string{"https://cache.example.com/other?priority=40"}}, "https://cache.example.com", "", CacheNotSubstituter},
		{SubstConfig{Substituters: []string{"http://cache.example.com"}}, "https://cache.example.com", "", CacheNotSubstituter},
	} {
		if got := tt.c.CacheStatus(tt.url, tt.key); got != tt.want {
			t.Errorf("CacheStatus(%q, %q) on %+v = %q, want %q", tt.url, tt.key, tt.c, got, tt.want)
		}
	}
}

// What a host sends is checked: JSON of the expected shape, bounded
// lists of printable strings.
func TestReadSubstitutersHostile(t *testing.T) {
	many := `"` + strings.Repeat(`x","`, 300) + `x"`
	for name, out := range map[string]string{
		"not JSON":      "<html>",
		"no setting":    `{"substituters":{"value":[]},"trusted-public-keys":{"value":[]}}`,
		"wrong type":    `{"substituters":{"value":"http://c"},"trusted-public-keys":{"value":[]},"require-sigs":{"value":true}}`,
		"escape":        `{"substituters":{"value":["http://c\u001b]0;x\u0007"]},"trusted-public-keys":{"value":[]},"require-sigs":{"value":true}}`,
		"too many":      `{"substituters":{"value":[` + many + `]},"trusted-public-keys":{"value":[]},"require-sigs":{"value":true}}`,
		"sigs not bool": `{"substituters":{"value":[]},"trusted-public-keys":{"value":[]},"require-sigs":{"value":"yes"}}`,
	} {
		f := newFakeRunner(t)
		f.expect(NixCmd("show-config", "--json")...).out(out)
		if c, err := ReadSubstituters(context.Background(), f); err == nil {
			t.Errorf("%s: accepted as %+v", name, c)
		}
	}
}
