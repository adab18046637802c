package nix_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestCopyLocalStores copies a 3,000-path closure into a second store on
// this machine (a chroot store, as a lab host has), then copies it again.
func TestCopyLocalStores(t *testing.T) {
	nixtest.NeedNix(t)
	testenv.NeedRoot(t, "a chroot store needs root")
	sys := nixtest.LargeClosure(t, 3000)
	root := t.TempDir()
	target := nix.LocalRunner{Env: append(os.Environ(), "NIX_REMOTE=local?root="+root)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var first, last nix.CopyProgress
	calls := 0
	res, err := nix.Copy(ctx, nix.LocalRunner{}, target, nix.CopyRequest{Paths: []string{sys},
		Progress: func(p nix.CopyProgress) {
			if calls == 0 {
				first = p
			}
			last, calls = p, calls+1
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Closure != 3001 || len(res.Missing) != 3001 {
		t.Fatalf("first copy: closure %d, missing %d; want 3001 and 3001", res.Closure, len(res.Missing))
	}
	if last.PathsDone != 3001 || last.BytesDone != res.Bytes || calls < 2 {
		t.Errorf("progress: last %+v after %d calls, sent %d bytes", last, calls, res.Bytes)
	}
	// The total announced up front, computed from the store's records,
	// is exactly what the export stream turned out to be.
	if first.BytesTotal != res.Bytes || first.PathsTotal != 3001 || first.PathsDone == 0 || first.PathsDone == 3001 {
		t.Errorf("first progress %+v, sent %d bytes", first, res.Bytes)
	}
	if _, err := os.Stat(filepath.Join(root, sys)); err != nil {
		t.Errorf("system missing in the target store: %v", err)
	}
	again, err := nix.Copy(ctx, nix.LocalRunner{}, target, nix.CopyRequest{Paths: []string{sys}})
	if err != nil || len(again.Missing) != 0 || again.Bytes != 0 {
		t.Fatalf("second copy sent %d paths (%d bytes), err %v; want nothing", len(again.Missing), again.Bytes, err)
	}
	ok, err := nix.Invalid(ctx, target, []string{sys, strings.Replace(sys, "-big-", "-gone-", 1)})
	if err != nil || len(ok) != 1 {
		t.Errorf("Invalid() = %v, %v; want only the unknown path", ok, err)
	}
}
