package nix_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestPushSignedFileCache pushes a closure from this machine's store to a
// file:// binary cache signed with a fresh key, then has Nix verify every
// path's signature against the public key, and checks a second push
// sends nothing.
func TestPushSignedFileCache(t *testing.T) {
	nixtest.NeedNix(t)
	sys := nixtest.LargeClosure(t, 20)
	dir := t.TempDir()
	sk, pk := filepath.Join(dir, "key.sec"), filepath.Join(dir, "key.pub")
	if out, err := exec.Command("nix-store", "--generate-binary-cache-key", "test-cache-1", sk, pk).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pub, err := os.ReadFile(pk)
	if err != nil {
		t.Fatal(err)
	}
	cache := "file://" + filepath.Join(dir, "cache")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var last nix.PushProgress
	calls := 0
	got, err := nix.Push(ctx, nix.LocalRunner{}, nix.PushRequest{To: cache, SignKey: sk, Paths: []string{sys},
		Progress: func(p nix.PushProgress) { last, calls = p, calls+1 }})
	if err != nil {
		t.Fatal(err)
	}
	if got.Paths != 21 || got.PathsTotal != 21 || got.Bytes <= 0 || last != got || calls < 3 {
		t.Errorf("pushed %+v, last progress %+v after %d calls", got, last, calls)
	}
	verify := exec.Command("nix", "--extra-experimental-features", "nix-command", "store", "verify", "--store", cache,
		"--trusted-public-keys", strings.TrimSpace(string(pub)), "--recursive", sys)
	if out, err := verify.CombinedOutput(); err != nil {
		t.Errorf("nix store verify: %v\n%s", err, out)
	}
	// The same check fails for paths pushed unsigned: it is a real check.
	plain := "file://" + filepath.Join(dir, "plain")
	if _, err := nix.Push(ctx, nix.LocalRunner{}, nix.PushRequest{To: plain, Paths: []string{sys}}); err != nil {
		t.Fatal(err)
	}
	verify = exec.Command("nix", "--extra-experimental-features", "nix-command", "store", "verify", "--store", plain,
		"--trusted-public-keys", strings.TrimSpace(string(pub)), "--recursive", sys)
	if out, err := verify.CombinedOutput(); err == nil {
		t.Errorf("nix store verify accepted unsigned paths:\n%s", out)
	}
	again, err := nix.Push(ctx, nix.LocalRunner{}, nix.PushRequest{To: cache, SignKey: sk, Paths: []string{sys}})
	if err != nil || again.Paths != 0 {
		t.Errorf("second push: %+v, %v", again, err)
	}
	// A cache Nix cannot write names the cache and gives Nix's reason.
	_, err = nix.Push(ctx, nix.LocalRunner{}, nix.PushRequest{To: "file:///proc/nixdeck-cache", Paths: []string{sys}})
	if err == nil || !strings.Contains(err.Error(), "push to file:///proc/nixdeck-cache: ") || !strings.Contains(err.Error(), "nixdeck-cache") {
		t.Errorf("push to an unwritable cache: %v", err)
	}
	t.Logf("unwritable cache: %v", err)
}
