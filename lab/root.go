package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The machine's Debian gives the lab Nix 2.8 and OpenSSH 9.2; operators'
// targets run current Nix and OpenSSH. A current-Nix lab host runs
// chrooted in a Debian 13 ("trixie") root instead, built once per machine
// with debootstrap from Debian's own packages and cached. The root is
// never written after it is built: every host mounts it read-only under
// a layer of its own (rootns.go).
//
// A root is built in a temporary directory beside its final place and
// renamed there once complete, with a marker file that records how it
// was built and what it holds. A directory at the final place without a
// valid marker, or a temporary one left by a build that was interrupted,
// is a half-built root: the next build removes it. Builds take a lock, so
// that test processes started together build the root once.

const (
	// rootSuite is the Debian release of the root.
	rootSuite = "trixie"
	// rootRecipe numbers the way the root is built (rootPackages, the
	// finishing script): a root built by another recipe is not used.
	rootRecipe = 1
	// rootMarkerName is the root's marker file, written last.
	rootMarkerName = ".nixdeck-root.json"
	// defaultMirror is where debootstrap gets Debian's packages unless
	// NIXDECK_DEBIAN_MIRROR names another mirror (a local cache, say).
	defaultMirror = "http://deb.debian.org/debian"
)

// Root is a built current-Nix root.
type Root struct {
	// Dir is the root's top directory.
	Dir string `json:"-"`
	// Recipe and Suite say how the root was built.
	Recipe int    `json:"recipe"`
	Suite  string `json:"suite"`
	// Nix and OpenSSH are the versions in the root ("2.26.3", "10.0p2").
	Nix     string `json:"nix"`
	OpenSSH string `json:"openssh"`
	// Built is when the build finished.
	Built time.Time `json:"built"`
}

// RootOptions say how EnsureRoot gets the root.
type RootOptions struct {
	// Rebuild builds the root anew even when a complete one is cached.
	Rebuild bool
	// Progress, when set, receives a line when a build starts and ends.
	Progress io.Writer
}

// RootsDir is where built roots are cached: $XDG_CACHE_HOME/nixdeck/roots,
// else ~/.cache/nixdeck/roots.
func RootsDir() string { return xdgDir("XDG_CACHE_HOME", ".cache", "roots") }

// rootName is the directory name of the root this recipe builds.
func rootName() string { return fmt.Sprintf("%s.%d", rootSuite, rootRecipe) }

// CachedRoot returns the root in RootsDir when it is complete, and an
// error saying what is wrong otherwise; it never builds.
func CachedRoot() (*Root, error) { return OpenRoot(filepath.Join(RootsDir(), rootName())) }

// OpenRoot reads the root in dir, which must be complete: a directory
// without its marker, or one built by another recipe, is an error.
func OpenRoot(dir string) (*Root, error) {
	b, err := os.ReadFile(filepath.Join(dir, rootMarkerName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(dir); serr == nil {
				return nil, fmt.Errorf("current-Nix root %s is half-built (no %s)", dir, rootMarkerName)
			}
			return nil, fmt.Errorf("no current-Nix root in %s (`nixdeck lab root` builds it)", dir)
		}
		return nil, err
	}
	r := &Root{Dir: dir}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("current-Nix root %s: %s: %w", dir, rootMarkerName, err)
	}
	if r.Recipe != rootRecipe || r.Suite != rootSuite || r.Nix == "" || r.OpenSSH == "" {
		return nil, fmt.Errorf("current-Nix root %s was built by another recipe (%s %d, want %s %d)", dir, r.Suite, r.Recipe, rootSuite, rootRecipe)
	}
	return r, nil
}

// EnsureRoot returns the cached current-Nix root, building it first when
// there is none (a few minutes: debootstrap downloads about 100 MB from
// Debian's mirror) or when opts.Rebuild says so. Concurrent callers, in
// this process or others, wait for one build.
func EnsureRoot(ctx context.Context, opts RootOptions) (*Root, error) {
	if !opts.Rebuild {
		if r, err := CachedRoot(); err == nil {
			return r, nil
		}
	}
	dir := RootsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, fmt.Errorf("lab: waiting for the current-Nix root's build lock: %w", err)
	}
	defer unlock()
	final := filepath.Join(dir, rootName())
	// Another process may have built it while this one waited.
	if r, err := OpenRoot(final); err == nil && !opts.Rebuild {
		return r, nil
	}
	if err := removeLeftovers(final); err != nil {
		return nil, err
	}
	progress := newProgress(opts.Progress)
	progress("building the Debian %s root for current-Nix hosts in %s (debootstrap from %s)", rootSuite, final, mirror())
	r, err := buildRoot(ctx, final)
	if err != nil {
		return nil, err
	}
	progress("root built: Nix %s, OpenSSH %s", r.Nix, r.OpenSSH)
	return r, nil
}

// removeLeftovers removes what earlier builds of final left: temporary
// directories and logs of builds that were interrupted or failed. The
// caller holds the build lock, so no build is under way.
func removeLeftovers(final string) error {
	left, err := filepath.Glob(filepath.Join(filepath.Dir(final), ".build-"+filepath.Base(final)+"-*"))
	if err != nil {
		return err
	}
	for _, p := range left {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("lab: removing what a root build left, %s: %w", p, err)
		}
	}
	return nil
}

// mirror is the Debian mirror the root is built from.
func mirror() string {
	if m := strings.TrimSpace(os.Getenv("NIXDECK_DEBIAN_MIRROR")); m != "" {
		return m
	}
	return defaultMirror
}

// lockFile takes an exclusive flock on path, waiting for it until ctx
// ends; unlock releases it.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	locked := make(chan error, 1)
	go func() { locked <- unix.Flock(int(f.Fd()), unix.LOCK_EX) }()
	select {
	case err := <-locked:
		if err != nil {
			f.Close()
			return nil, err
		}
		return func() { f.Close() }, nil
	case <-ctx.Done():
		// Closing the file releases the lock once the flock returns.
		go func() { <-locked; f.Close() }()
		return nil, ctx.Err()
	}
}
