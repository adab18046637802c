package nix_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
	"nixdeck/nix/closurebench"
	"nixdeck/nix/nixtest"
)

// TestLocalClosures reads real closures from the local store through the
// Nix database, through the CLI (both closures from one nix-store walk,
// and one closure per walk), and through the CLI after the database
// failed to open, and checks them against each other and against Nix.
func TestLocalClosures(t *testing.T) {
	a, b := closurebench.Pair(t, 300)
	ctx := context.Background()
	readers := map[string]*nix.LocalClosures{
		"db":       {},
		"cli":      {NoDB: true},
		"cli-one":  {NoDB: true},
		"fallback": {DBPath: filepath.Join(t.TempDir(), "no-such-db.sqlite")},
		"other":    {DBPath: emptyNixDB(t)},
	}
	got := map[string][2]*nix.Closure{}
	for name, lc := range readers {
		var ca, cb *nix.Closure
		if name == "cli-one" {
			var errA, errB error
			ca, errA = lc.Query(ctx, a)
			cb, errB = lc.Query(ctx, b)
			if err := errors.Join(errA, errB); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		} else {
			cs, err := lc.QueryAll(ctx, a, b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ca, cb = cs[0], cs[1]
		}
		lc.Close()
		if wantCLI := name != "db"; lc.UsedCLI != wantCLI {
			t.Errorf("%s: UsedCLI = %v, want %v (DBErr %v)", name, lc.UsedCLI, wantCLI, lc.DBErr)
		}
		if name == "fallback" && lc.DBErr == nil {
			t.Errorf("fallback: DBErr is nil although the database does not exist")
		}
		if name == "other" && lc.DBErr != nil {
			t.Errorf("other: DBErr = %v; a database without the path is not broken", lc.DBErr)
		}
		for _, c := range []*nix.Closure{ca, cb} {
			slices.Sort(c.Refs)
			slices.Sort(c.SWRefs)
			// Readers compute the order only when versions are spelt
			// apart (TestRequisitesOrder).
			c.Order = nil
		}
		got[name] = [2]*nix.Closure{ca, cb}
	}
	for _, name := range []string{"cli", "cli-one", "fallback", "other"} {
		if !reflect.DeepEqual(got["db"], got[name]) {
			t.Errorf("%s closures differ from the database's", name)
		}
	}

	ca := got["db"][0]
	out, err := exec.Command("nix-store", "-qR", a).Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(string(out))); n != len(ca.Paths) || n < 300 {
		t.Errorf("closure has %d paths, nix-store -qR lists %d", len(ca.Paths), n)
	}

	out, err = exec.Command("nix", "--extra-experimental-features", "nix-command", "path-info", "-S", a).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	if size, _ := strconv.ParseInt(f[len(f)-1], 10, 64); size != ca.NarSize() {
		t.Errorf("NarSize = %d, nix path-info -S says %d", ca.NarSize(), size)
	}
	if ca.SW == "" || len(ca.SWRefs) == 0 || ca.Kernel == "" || ca.Initrd == "" {
		t.Errorf("sw %q (%d refs), kernel %q, initrd %q: want all set", ca.SW, len(ca.SWRefs), ca.Kernel, ca.Initrd)
	}

	d := nix.DiffClosures(a, b, got["db"][0], got["db"][1])
	var text bytes.Buffer
	d.Render(&text, nil)
	if d.Empty() || d.PathsAdded == 0 || !strings.Contains(text.String(), "Version changes:") {
		t.Errorf("diff of two releases shows no version changes:\n%s", text.String())
	}
}

// TestMatchesNvd compares `nixdeck diff` with the real nvd, line for line,
// when nvd is installed (or $NIXDECK_NVD names its script); nixdeck does
// not depend on nvd, so without it the test skips even under CI.
func TestMatchesNvd(t *testing.T) {
	nvd := []string{"python3", os.Getenv("NIXDECK_NVD")}
	if nvd[1] == "" {
		p, err := exec.LookPath("nvd")
		if err != nil {
			t.Skip("nvd is not installed (set NIXDECK_NVD to its script to run this)")
		}
		nvd = []string{p}
	}
	a, b := closurebench.Pair(t, 600)
	ctx := context.Background()
	// The last pair is spelt with a trailing slash: nvd prints its
	// arguments through pathlib, which drops it.
	for _, pair := range [][2]string{{a, b}, {b, a}, {a, a}, {a + "/", b + "//"}} {
		argv := append(append([]string{}, nvd...), "diff", pair[0], pair[1])
		want, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
		if err != nil {
			t.Fatalf("nvd: %v", err)
		}
		lc := &nix.LocalClosures{}
		old, err := lc.Query(ctx, pair[0])
		if err != nil {
			t.Fatal(err)
		}
		new, err := lc.Query(ctx, pair[1])
		if err != nil {
			t.Fatal(err)
		}
		lc.Close()
		var got bytes.Buffer
		nix.DiffClosures(pair[0], pair[1], old, new).Render(&got, nil)
		if got.String() != string(want) {
			t.Errorf("nixdeck and nvd differ on %s -> %s:\n--- nixdeck\n%s\n--- nvd\n%s", pair[0], pair[1], got.String(), want)
		}
	}
}

// emptyNixDB makes a database with Nix's tables and no paths, as another
// store's database would look to our paths.
func emptyNixDB(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "db.sqlite")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE ValidPaths (id integer primary key autoincrement not null, path text unique not null,
		  hash text not null, registrationTime integer not null, deriver text, narSize integer, ultimate integer, sigs text, ca text)`,
		`CREATE TABLE Refs (referrer integer not null, reference integer not null, primary key (referrer, reference))`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestClosureWithoutKernel reads a store object that has no kernel or
// initrd link and no sw (a container system, a package, here a system's
// sw) the way a host's side is read (QueryClosure, the host script) and
// through the local database: both must say there is none, or a host
// running such a system would always be told to reboot.
func TestClosureWithoutKernel(t *testing.T) {
	a, _ := closurebench.Pair(t, 50)
	ctx := context.Background()
	lc := &nix.LocalClosures{}
	defer lc.Close()
	sys, err := lc.Query(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	local, err := lc.Query(ctx, sys.SW)
	if err != nil {
		t.Fatal(err)
	}
	host, err := nix.QueryClosure(ctx, nix.LocalRunner{}, sys.SW)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*nix.Closure{"database": local, "host script": host} {
		if c.Kernel != "" || c.Initrd != "" || c.SW != "" {
			t.Errorf("%s: %s has no kernel, initrd or sw, but kernel = %q, initrd = %q, sw = %q", name, sys.SW, c.Kernel, c.Initrd, c.SW)
		}
	}
}

// copyNixDB makes a consistent copy of this machine's Nix database in
// journal mode mode ("wal", as Nix keeps it, or "delete") and returns its
// path and a read-write handle, as Nix would hold it.
func copyNixDB(t *testing.T, mode string) (string, *sql.DB) {
	t.Helper()
	src, err := sql.Open("sqlite", "file:"+nix.DefaultDBPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	p := filepath.Join(t.TempDir(), "db.sqlite")
	if _, err := src.Exec(`VACUUM INTO ?`, p); err != nil {
		t.Fatalf("copy %s: %v", nix.DefaultDBPath, err)
	}
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`PRAGMA journal_mode = ` + mode); err != nil {
		t.Fatal(err)
	}
	return p, db
}

// TestLocalClosuresWhileNixWrites reads closures from a database that a
// writer (standing in for Nix registering paths) holds a write
// transaction on. In WAL mode, as Nix keeps it, the read goes ahead at
// once from the last committed state; in rollback-journal mode
// (use-sqlite-wal = false) the writer's exclusive lock makes the read
// give up after the busy timeout and fall back to nix-store.
func TestLocalClosuresWhileNixWrites(t *testing.T) {
	a, _ := closurebench.Pair(t, 100)
	ctx := context.Background()
	want, err := (&nix.LocalClosures{}).Query(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode, begin string
		cli         bool
	}{
		{"wal", "BEGIN IMMEDIATE", false},
		{"delete", "BEGIN EXCLUSIVE", true},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			p, db := copyNixDB(t, tt.mode)
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, tt.begin); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(ctx, "ROLLBACK")
			// An uncommitted registration, and a deleted reference of the
			// root the reader must not see.
			if _, err := conn.ExecContext(ctx, `INSERT INTO ValidPaths (path, hash, registrationTime, narSize)
				VALUES ('/nix/store/00000000000000000000000000000000-uncommitted', 'sha256:0', 0, 1)`); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, `DELETE FROM Refs WHERE referrer = (SELECT id FROM ValidPaths WHERE path = ?)`, want.Root); err != nil {
				t.Fatal(err)
			}

			lc := &nix.LocalClosures{DBPath: p}
			defer lc.Close()
			start := time.Now()
			got, err := lc.Query(ctx, a)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			// The writer holds its transaction throughout: a reader that
			// waited for it would give up (busy timeout) and use the CLI.
			if lc.UsedCLI != tt.cli {
				t.Errorf("UsedCLI = %v, want %v (DBErr %v, %v)", lc.UsedCLI, tt.cli, lc.DBErr, took)
			}
			for _, c := range []*nix.Closure{want, got} {
				slices.Sort(c.Refs)
				slices.Sort(c.SWRefs)
				c.Order = nil // only the CLI always has one
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("closure read during the write differs from the committed one")
			}
		})
	}
}

// TestClosureWithRealSW diffs systems whose sw is a real directory, not a
// link to a store path: sw then belongs to the system itself, whose
// references are what it selects (as nix-store -q --references says for
// a path inside a store object). Both the database and the host script
// read it so.
func TestClosureWithRealSW(t *testing.T) {
	roots := buildNix(t, `let
  hello = builtins.toFile "hello-2.12" "hello";
  zlib = builtins.toFile "zlib-1.3" "zlib";
  curl = builtins.toFile "curl-8.9" "curl";
  sys = name: pkgs: builtins.derivation { inherit name; system = builtins.currentSystem; builder = "/bin/sh";
    args = [ "-c" "/bin/mkdir -p $out/sw/bin && echo ${pkgs} > $out/sw/manifest" ]; };
in { old = sys "nixos-system-realsw-1" "${hello} ${zlib}"; new = sys "nixos-system-realsw-2" "${hello} ${curl}"; }
`, "old", "new")
	ctx := context.Background()
	lc := &nix.LocalClosures{}
	defer lc.Close()
	var db [2]*nix.Closure
	for i, attr := range []string{"old", "new"} {
		c, err := lc.Query(ctx, roots[attr])
		if err != nil {
			t.Fatalf("%s: %v", attr, err)
		}
		host, err := nix.QueryClosure(ctx, nix.LocalRunner{}, roots[attr])
		if err != nil {
			t.Fatalf("%s through the host script: %v", attr, err)
		}
		for name, c := range map[string]*nix.Closure{"database": c, "host script": host} {
			slices.Sort(c.Refs)
			slices.Sort(c.SWRefs)
			if c.SW != c.Root || !slices.Equal(c.SWRefs, c.Refs) || len(c.Refs) != 2 {
				t.Errorf("%s, %s: sw %q (root %q), sw refs %v, refs %v", attr, name, c.SW, c.Root, c.SWRefs, c.Refs)
			}
		}
		db[i] = c
	}
	var got bytes.Buffer
	nix.DiffClosures("old", "new", db[0], db[1]).Render(&got, nil)
	for _, want := range []string{"Version changes:\n[U.]  #1  nixos-system-realsw  1 -> 2\n",
		"Added packages:\n[A+]  #1  curl  8.9\n", "Removed packages:\n[R-]  #1  zlib  1.3\n"} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("diff lacks %q:\n%s", want, got.String())
		}
	}
}

// TestEqualSpellingsFromDatabase: a closure holding "eq-1.0" and "eq-1-0"
// read from the database shows, as nvd does, the spelling of the path
// nix-store -qR lists last, the same as read through nix-store.
func TestEqualSpellingsFromDatabase(t *testing.T) {
	link := buildNix(t, `let
  a = builtins.toFile "eq-1.0" "a";
  b = builtins.toFile "eq-1-0" "b";
in { top = builtins.derivation { name = "spellings"; system = builtins.currentSystem; builder = "/bin/sh";
  args = [ "-c" "echo ${a} ${b} > $out" ]; }; }
`, "top")["top"]
	ctx := context.Background()
	qR, err := exec.Command("nix-store", "-qR", link).Output()
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, p := range strings.Fields(string(qR)) {
		if name, v := nix.SplitName(p); name == "eq" {
			last = v
		}
	}
	lc := &nix.LocalClosures{}
	defer lc.Close()
	db, err := lc.Query(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	// The host script reads the closure without its edges and asks for
	// the order; the local fallback sorts the edges it read.
	host, err := nix.QueryClosure(ctx, nix.LocalRunner{}, link)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := (&nix.LocalClosures{NoDB: true}).Query(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	empty := &nix.Closure{Root: db.Root, Paths: map[string]int64{}}
	var fromDB bytes.Buffer
	nix.DiffClosures("a", "b", db, empty).Render(&fromDB, nil)
	if want := "  " + last + " x2\n"; !strings.Contains(fromDB.String(), want) {
		t.Errorf("want %q (nix-store -qR lists %s last)\n--- database\n%s", want, last, fromDB.String())
	}
	for name, c := range map[string]*nix.Closure{"host script": host, "nix-store fallback": cli} {
		var got bytes.Buffer
		nix.DiffClosures("a", "b", c, empty).Render(&got, nil)
		if got.String() != fromDB.String() {
			t.Errorf("%s:\n%s--- database\n%s", name, got.String(), fromDB.String())
		}
	}
}

// buildNix builds the attributes of a Nix expression with nix-build and
// returns gc root links to them, by attribute, living as long as the test.
func buildNix(t *testing.T, expr string, attrs ...string) map[string]string {
	t.Helper()
	nixtest.NeedNix(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "default.nix")
	if err := os.WriteFile(file, []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	roots := map[string]string{}
	for _, attr := range attrs {
		link := filepath.Join(dir, attr)
		out, err := exec.Command("nix-build", "--option", "substituters", "", "-A", attr, "--out-link", link, file).CombinedOutput()
		if err != nil {
			t.Fatalf("nix-build: %v\n%s", err, out)
		}
		roots[attr] = link
	}
	return roots
}

// TestHostScriptOddTopLevels reads, the way a host's side is read, top
// levels whose links do not all lead somewhere: a file (no sw, kernel or
// initrd under it), and a system whose kernel link dangles and whose sw
// leads out of the store. Only what exists in the store is reported.
func TestHostScriptOddTopLevels(t *testing.T) {
	odd := buildNix(t, `let
  file = builtins.toFile "motd-1.0" "hello";
in {
  odd = builtins.derivation { name = "nixos-system-odd-1"; system = builtins.currentSystem; builder = "/bin/sh";
    args = [ "-c" "/bin/mkdir $out && /bin/ln -s /nix/store/00000000000000000000000000000000-gone $out/kernel && /bin/ln -s ${file} $out/initrd && /bin/ln -s /tmp $out/sw" ]; };
}
`, "odd")["odd"]
	ctx := context.Background()
	initrd, err := filepath.EvalSymlinks(filepath.Join(odd, "initrd"))
	if err != nil {
		t.Fatal(err)
	}
	file, err := nix.QueryClosure(ctx, nix.LocalRunner{}, initrd)
	if err != nil {
		t.Fatal(err)
	}
	if file.Root != initrd || file.SW != "" || file.Kernel != "" || file.Initrd != "" || len(file.Paths) != 1 || file.Paths[initrd] == 0 {
		t.Errorf("file: %+v", file)
	}
	c, err := nix.QueryClosure(ctx, nix.LocalRunner{}, odd)
	if err != nil {
		t.Fatal(err)
	}
	if c.SW != "" || c.Kernel != "" || c.Initrd != initrd || len(c.Paths) != 2 {
		t.Errorf("odd: sw %q, kernel %q, initrd %q (want %q), paths %v", c.SW, c.Kernel, c.Initrd, initrd, c.Paths)
	}
}
