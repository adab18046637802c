package lab_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// fakeDebootstrap stands in for debootstrap without the network: it
// copies the machine's cached root (minus its marker) to the target and
// leaves nix-bin unconfigured, then fails, as debootstrap does when it
// misses one of nix-bin's dependencies. $FAKE_ROOT is the root to copy,
// $FAKE_RUNS a file that gets a line per run.
const fakeDebootstrap = `#!/bin/sh
echo run >>"$FAKE_RUNS"
[ "$1" = --variant=minbase ] && [ "$3" = trixie ] || { echo "fake debootstrap: unexpected arguments: $*" >&2; exit 2; }
target=$4
cp -a "$FAKE_ROOT/." "$target/" && rm "$target/.nixdeck-root.json" || exit 1
status=$target/var/lib/dpkg/status
awk '/^Package: / { pkg = $2 } pkg == "nix-bin" && /^Status: / { $0 = "Status: install ok unpacked" } { print }' "$status" >"$status.new" && mv "$status.new" "$status"
mkdir -p "$target/debootstrap"
echo "dpkg: error processing package nix-bin (--configure): dependency problems - leaving unconfigured" >"$target/debootstrap/debootstrap.log"
exit 1
`

// TestRootRebuildsHalfBuilt: a root without its marker and the remains of
// an interrupted build are replaced by a complete root, built once for
// two callers at a time, with what debootstrap left unconfigured repaired.
func TestRootRebuildsHalfBuilt(t *testing.T) {
	cached := labtest.Root(t)
	bin := t.TempDir()
	runs := filepath.Join(t.TempDir(), "runs")
	if err := os.WriteFile(filepath.Join(bin, "debootstrap"), []byte(fakeDebootstrap), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("FAKE_ROOT", cached.Dir)
	t.Setenv("FAKE_RUNS", runs)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())

	half := filepath.Join(lab.RootsDir(), filepath.Base(cached.Dir))
	for _, d := range []string{filepath.Join(half, "usr"), half + "-x", filepath.Join(lab.RootsDir(), ".build-"+filepath.Base(half)+"-123", "usr")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lab.CachedRoot(); err == nil || !strings.Contains(err.Error(), "half-built") {
		t.Fatalf("CachedRoot of a half-built root: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	roots := make([]*lab.Root, 2)
	errs := make([]error, 2)
	for i := range roots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			roots[i], errs[i] = lab.EnsureRoot(ctx, lab.RootOptions{})
		}()
	}
	wg.Wait()
	for i, r := range roots {
		if errs[i] != nil || r.Dir != half || r.Nix != cached.Nix || r.OpenSSH != cached.OpenSSH {
			t.Fatalf("EnsureRoot %d: %+v, %v", i, r, errs[i])
		}
	}
	if b, _ := os.ReadFile(runs); string(b) != "run\n" {
		t.Errorf("debootstrap ran %d times, want once", strings.Count(string(b), "run"))
	}
	entries, _ := os.ReadDir(lab.RootsDir())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := ".lock " + filepath.Base(half) + " " + filepath.Base(half) + "-x"; strings.Join(names, " ") != want {
		t.Errorf("roots directory holds %v, want %s", names, want)
	}
	if fi, err := os.Stat(half); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("root mode: %v %v, want 0755 (it is / of the hosts)", fi.Mode(), err)
	}
	for _, p := range []string{"debootstrap", "etc/ssh/ssh_host_ed25519_key"} {
		if _, err := os.Lstat(filepath.Join(half, p)); err == nil {
			t.Errorf("%s left in the root", p)
		}
	}
	status, err := os.ReadFile(filepath.Join(half, "var/lib/dpkg/status"))
	if _, stanza, _ := strings.Cut(string(status), "Package: nix-bin\n"); err != nil || !strings.Contains(strings.SplitN(stanza, "\n\n", 2)[0], "Status: install ok installed") {
		t.Errorf("nix-bin is not configured in the rebuilt root: %v", err)
	}
}
