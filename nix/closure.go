package nix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Closure is what a closure diff needs to know about one system or package:
// every store path it depends on with its NAR size, and the direct
// references that decide which packages count as "selected".
type Closure struct {
	// Root is the resolved store path of the top level.
	Root string `json:"root"`
	// Paths maps every store path of the closure (Root included) to its NAR size in bytes.
	Paths map[string]int64 `json:"paths"`
	// Refs are the direct references of Root.
	Refs []string `json:"refs"`
	// SW is the store object holding what Root/sw resolves to: the store
	// path it links to, or Root itself when sw is a real directory ("" when
	// there is no sw directory, or it leads out of the store).
	SW string `json:"sw,omitempty"`
	// SWRefs are the direct references of SW: environment.systemPackages.
	SWRefs []string `json:"sw_refs,omitempty"`
	// Kernel and Initrd are what Root/kernel and Root/initrd point to ("" if absent);
	// when they change, the new system needs a reboot to take full effect.
	Kernel string `json:"kernel,omitempty"`
	Initrd string `json:"initrd,omitempty"`
	// Order lists Paths as `nix-store -qR` prints them (dependencies
	// first): nvd reads versions in that order and, of versions that
	// compare equal, shows the one listed last. Nil when unknown or not
	// needed (no two versions of a name are equal but spelt apart).
	Order []string `json:"-"`
}

// NarSize is the closure's total NAR size, what `nix path-info -S` reports.
func (c *Closure) NarSize() int64 {
	var n int64
	for _, s := range c.Paths {
		n += s
	}
	return n
}

// ResolveStorePath follows symlinks from p (a store path, /run/current-system,
// a result or profile link) to the store object it names.
func ResolveStorePath(p string) (string, error) {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	if !strings.HasPrefix(r, StoreDir+"/") {
		return "", fmt.Errorf("resolve %s: %s is not in %s", p, r, StoreDir)
	}
	rest := strings.TrimPrefix(r, StoreDir+"/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return "", fmt.Errorf("resolve %s: %s is inside store object %s, not a store object", p, r, StoreDir+"/"+rest[:i])
	}
	return r, nil
}

// storeObject returns the store object that a path in the store lies
// in: "/nix/store/abc-x/sw/bin" gives "/nix/store/abc-x".
func storeObject(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok || rest == "" {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	if name == "." || name == ".." {
		return "", false
	}
	return StoreDir + "/" + name, true
}

// isStoreObject reports whether p names a store object itself, not a
// path inside one. It is storeObject(p) == p, without building a string:
// a closure read asks it of every path.
func isStoreObject(p string) bool {
	name, ok := strings.CutPrefix(p, StoreDir+"/")
	return ok && name != "" && name != "." && name != ".." && !strings.Contains(name, "/")
}

// LocalClosures reads closures from this machine's Nix store. It queries
// the Nix database read-only (one recursive query per closure) and falls
// back to the nix-store CLI through Runner when the database can't be used.
type LocalClosures struct {
	// DBPath is the Nix database; "" means $NIX_STATE_DIR/db/db.sqlite when
	// NIX_STATE_DIR is set, else DefaultDBPath.
	DBPath string
	// Runner runs the CLI fallback; nil means LocalRunner{}.
	Runner Runner
	// NoDB skips the database and always uses the CLI (for tests and --no-db).
	NoDB bool
	// UsedCLI is set when a query fell back to the CLI, for tests and diagnostics.
	UsedCLI bool
	// DBErr keeps why the database could not be used, when it could not.
	DBErr error

	db *storeDB
}

// DefaultDBPath is where single-user and daemon Nix installs keep the store database.
const DefaultDBPath = "/nix/var/nix/db/db.sqlite"

// Query resolves root (a store path or a link to one) and reads its closure.
func (l *LocalClosures) Query(ctx context.Context, root string) (*Closure, error) {
	cs, err := l.QueryAll(ctx, root)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// QueryAll resolves roots and reads their closures at once, as a diff
// needs both sides: from the database one query per root, concurrently;
// what the database cannot answer goes to one `nix-store --serve` for
// all those roots together (cliClosures).
func (l *LocalClosures) QueryAll(ctx context.Context, roots ...string) ([]*Closure, error) {
	rs := make([]cliRoot, len(roots))
	for i, root := range roots {
		rp, err := ResolveStorePath(root)
		if err != nil {
			return nil, err
		}
		rs[i] = cliRoot{rp, localSW(rp)}
	}
	out := make([]*Closure, len(rs))
	if l.useDB() {
		errs := make([]error, len(rs))
		var wg sync.WaitGroup
		for i, x := range rs {
			wg.Go(func() { out[i], errs[i] = l.db.closure(ctx, x.root, x.sw) })
		}
		wg.Wait()
		// A root the database does not know may live in a store that
		// nix-store reaches and this file does not (another state
		// directory, a daemon's store): ask the CLI, but keep using the
		// database for the other closures.
		for _, err := range errs {
			if err != nil && !errors.Is(err, errNotValid) && l.DBErr == nil {
				l.DBErr = err
			}
		}
	}
	var rest []cliRoot
	var at []int
	for i, c := range out {
		if c == nil {
			rest, at = append(rest, rs[i]), append(at, i)
		}
	}
	if len(rest) > 0 {
		l.UsedCLI = true
		cs, err := cliClosures(ctx, l.runner(), rest)
		if err != nil {
			return nil, err
		}
		for j, i := range at {
			out[i] = cs[j]
		}
	}
	for i, c := range out {
		c.Kernel, c.Initrd = resolveOrEmpty(filepath.Join(rs[i].root, "kernel")), resolveOrEmpty(filepath.Join(rs[i].root, "initrd"))
	}
	return out, nil
}

// localSW is what closureScript calls sw, for a local top level: sw may
// be a link to a store path (NixOS's system-path) or a real directory of
// the system itself.
func localSW(root string) string {
	if fi, err := os.Stat(filepath.Join(root, "sw")); err != nil || !fi.IsDir() {
		return ""
	}
	r, err := filepath.EvalSymlinks(filepath.Join(root, "sw"))
	if err != nil {
		return ""
	}
	sw, _ := storeObject(r)
	return sw
}

// useDB opens the database on first use and reports whether it may be used.
func (l *LocalClosures) useDB() bool {
	if l.NoDB || l.DBErr != nil {
		return false
	}
	if l.db == nil {
		l.db, l.DBErr = openStoreDB(l.dbPath())
	}
	return l.DBErr == nil
}

// Close releases the database handle, if one was opened.
func (l *LocalClosures) Close() error {
	if l.db == nil {
		return nil
	}
	err := l.db.close()
	l.db = nil
	return err
}

func (l *LocalClosures) dbPath() string {
	if l.DBPath != "" {
		return l.DBPath
	}
	if dir := os.Getenv("NIX_STATE_DIR"); dir != "" {
		return filepath.Join(dir, "db", "db.sqlite")
	}
	return DefaultDBPath
}

func (l *LocalClosures) runner() Runner {
	if l.Runner != nil {
		return l.Runner
	}
	return LocalRunner{}
}

// resolveOrEmpty resolves p, or returns "" when p does not exist.
func resolveOrEmpty(p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return ""
	}
	return r
}

// errNotValid marks a root that the store does not know (not a DB failure).
var errNotValid = errors.New("not a valid store path")
