package nix_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestSubstituteOnDestinationLocal copies a closure to chroot stores
// that substitute from a signed cache served over HTTP here, as a lab
// host's does: Nix itself refuses or fetches, and nixdeck reads why.
func TestSubstituteOnDestinationLocal(t *testing.T) {
	needChrootStore(t)
	sys := nixtest.SizedClosure(t, 4, 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cache := nixtest.ServeCache(t, sys)
	copyWith := func(url, key string) nix.CopyResult {
		t.Helper()
		target, root := chrootStore(t)
		target.Env = append(target.Env, nixtest.SubstituteEnv(t, url, key)...)
		res, err := nix.Copy(ctx, nix.LocalRunner{}, target, nix.CopyRequest{Paths: []string{sys}, Substitute: true})
		if err != nil {
			t.Fatalf("copy from %s: %v", url, err)
		}
		if _, err := os.Stat(filepath.Join(root, sys)); err != nil {
			t.Errorf("copy from %s: the system is not in the store: %v", url, err)
		}
		return res
	}
	res := copyWith(cache.URL, cache.PublicKey)
	if n := cache.NARs.Load(); res.FromCache != 5 || len(res.Missing) != 0 || res.Bytes != 0 || res.CacheProblem != "" || n != 5 {
		t.Errorf("trusted cache: %+v, %d NARs fetched; want all 5 paths from the cache", res, n)
	}
	res = copyWith(cache.URL, cache.OtherKey())
	if res.FromCache != 0 || len(res.Missing) != 5 || res.Bytes == 0 || res.CacheProblem != nix.SubstUntrusted ||
		!strings.Contains(res.CacheDetail, "not signed by any of the keys in 'trusted-public-keys'") {
		t.Errorf("untrusted cache: %+v; want everything sent, untrusted", res)
	}
	down := nixtest.DownURL()
	res = copyWith(down, cache.PublicKey)
	if res.FromCache != 0 || len(res.Missing) != 5 || res.CacheProblem != nix.SubstUnreachable ||
		!strings.Contains(res.CacheDetail, "unable to download '"+down) {
		t.Errorf("cache down: %+v; want everything sent, unreachable", res)
	}
}

// TestReadSubstitutersLocal reads this machine's Nix settings as a host's
// are read, with a cache set through NIX_CONFIG.
func TestReadSubstitutersLocal(t *testing.T) {
	nixtest.NeedNix(t)
	key := "nixdeck-test-1:AaNq7Hr55FPAas5RLoNjMR0LH4s7FC1E/M2/tfy73LU="
	r := nix.LocalRunner{Env: append(os.Environ(), "NIX_CONFIG=substituters = http://127.0.0.1:9/\ntrusted-public-keys = "+key+"\nrequire-sigs = true\n")}
	c, err := nix.ReadSubstituters(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CacheStatus("http://127.0.0.1:9", key); got != nix.CacheOK || len(c.Substituters) != 1 {
		t.Errorf("%+v: %q", c, got)
	}
}
