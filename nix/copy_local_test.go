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

// TestCopyLocalStores copies a 3,000-path closure into a second store on
// this machine (a chroot store, as a lab host has), then copies it again.
func TestCopyLocalStores(t *testing.T) {
	needChrootStore(t)
	sys := nixtest.LargeClosure(t, 3000)
	target, root := chrootStore(t)
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

// chrootStore returns a runner whose Nix commands use a new, empty store
// rooted in a temporary directory, and that directory.
func chrootStore(t *testing.T) (nix.LocalRunner, string) {
	root := t.TempDir()
	return nix.LocalRunner{Env: append(os.Environ(), "NIX_REMOTE=local?root="+root)}, root
}

// TestCopyManyLocalStores copies one closure into three chroot stores at
// once with real exports and imports: two empty stores share one stream,
// a store that already holds part of the closure gets its own.
func TestCopyManyLocalStores(t *testing.T) {
	needChrootStore(t)
	sys := nixtest.SizedClosure(t, 12, 2<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	closure, err := nix.Requisites(ctx, nix.LocalRunner{}, []string{sys})
	if err != nil || len(closure) != 13 {
		t.Fatalf("closure %v, %v; want 13 paths", closure, err)
	}
	var targets []nix.CopyTarget
	var roots []string
	for range 3 {
		r, root := chrootStore(t)
		targets, roots = append(targets, nix.CopyTarget{Runner: r}), append(roots, root)
	}
	if _, err := nix.Copy(ctx, nix.LocalRunner{}, targets[2].Runner, nix.CopyRequest{Paths: closure[:3]}); err != nil {
		t.Fatal(err)
	}
	last := make([]nix.CopyProgress, 3)
	for i := range targets {
		targets[i].Progress = func(p nix.CopyProgress) { last[i] = p }
	}
	out := nix.CopyMany(ctx, nix.LocalRunner{}, targets, nix.CopyRequest{Paths: []string{sys}})
	for i, o := range out {
		want := 13
		if i == 2 {
			want = 10
		}
		if o.Err != nil || len(o.Missing) != want || o.Bytes == 0 || last[i].PathsDone != want || last[i].BytesDone != o.Bytes {
			t.Errorf("store %d: %+v (last progress %+v), want %d paths sent", i, o, last[i], want)
		}
		if missing, err := nix.Invalid(ctx, targets[i].Runner, closure); err != nil || len(missing) != 0 {
			t.Errorf("store %d lacks %v after the copy (%v)", i, missing, err)
		}
		if _, err := os.Stat(filepath.Join(roots[i], sys)); err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
	if out[0].Bytes != out[1].Bytes || out[2].Bytes >= out[0].Bytes {
		t.Errorf("bytes sent %d, %d, %d: want the same stream twice, less for the third", out[0].Bytes, out[1].Bytes, out[2].Bytes)
	}
}
