package nix

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateDiff = flag.Bool("update-diff", false, "rewrite the golden files in testdata/diff")

// sp makes a store path with a stable fake hash; seed varies the hash so
// that the same name can exist twice (a rebuild with new dependencies).
func sp(name string, seed int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", name, seed))
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	b := make([]byte, 32)
	for i := range b {
		b[i] = alphabet[h[i]%32]
	}
	return StoreDir + "/" + string(b) + "-" + name
}

// closureOf builds a Closure: root and sw are base names, pkgs maps base
// names (with a "#seed" suffix for duplicates) to NAR sizes, selected
// lists the base names referenced by sw.
func closureOf(root, sw string, pkgs map[string]int64, selected ...string) *Closure {
	c := &Closure{Root: sp(root, 0), Paths: map[string]int64{}}
	c.Paths[c.Root] = 1024
	if sw != "" {
		c.SW = sp(sw, 0)
		c.Paths[c.SW] = 2048
		c.Refs = append(c.Refs, c.SW)
	}
	for spec, size := range pkgs {
		name, seed := spec, 0
		fmt.Sscanf(spec[len(spec)-2:], "#%d", &seed)
		if seed != 0 {
			name = spec[:len(spec)-2]
		}
		c.Paths[sp(name, seed)] = size
	}
	for _, s := range selected {
		if sw != "" {
			c.SWRefs = append(c.SWRefs, sp(s, 0))
		} else {
			c.Refs = append(c.Refs, sp(s, 0))
		}
	}
	return c
}

// goldenClosures are the two systems of the golden diffs: a NixOS
// release upgrade with every kind of change nvd shows.
func goldenClosures() (old, new *Closure) {
	old = closureOf("nixos-system-web1-24.05.20240901.abc", "system-path", map[string]int64{
		"linux-6.6.58": 130 << 20, "linux-6.6.58-modules": 90 << 20, "glibc-2.39-52": 30 << 20,
		"bash-5.2p32": 1 << 20, "bash-interactive-5.2p32": 2 << 20, "python3.11-requests-2.31.0": 400 << 10,
		"tzdata-2024a": 2 << 20, "unit-nginx.service": 1500, "unit-nginx.service#1": 1500, "etc-os-release": 300,
		"openssl-3.0.14": 6 << 20, "openssl-3.0.14#1": 6 << 20, "perl-5.38.2": 50 << 20, "hello-2.12.1": 300 << 10,
		"curl-8.9.1": 1 << 20, "curl-8.9.1-bin": 500 << 10, "htop-3.3.0": 400 << 10, "source": 800,
		"ncurses-6.4.20221231": 3 << 20, "libfoo-1.0pre1": 100, "zlib-1.3.1": 200 << 10,
	}, "bash-interactive-5.2p32", "hello-2.12.1", "htop-3.3.0", "curl-8.9.1-bin")
	new = closureOf("nixos-system-web1-24.11.20241101.def", "system-path", map[string]int64{
		"linux-6.6.60": 131 << 20, "linux-6.6.60-modules": 91 << 20, "glibc-2.40-36": 31 << 20,
		"bash-5.2p37": 1 << 20, "bash-interactive-5.2p37": 2 << 20, "python3.12-requests-2.32.3": 410 << 10,
		"tzdata-2024b": 2 << 20, "unit-nginx.service": 1500, "etc-os-release": 300,
		"openssl-3.0.14": 6 << 20, "openssl-3.0.14#1": 6 << 20, "perl-5.38.2": 50 << 20, "hello-2.12.1": 300 << 10,
		"curl-8.8.0": 1 << 20, "curl-8.8.0-bin": 500 << 10, "htop-3.3.0": 400 << 10, "source": 800, "source#1": 900,
		"ncurses-6.5": 3 << 20, "libfoo-1.0": 100, "zlib-1.3.1": 200 << 10, "ripgrep-14.1.0": 5 << 20,
	}, "bash-interactive-5.2p37", "htop-3.3.0", "curl-8.8.0-bin", "zlib-1.3.1", "ripgrep-14.1.0")
	return old, new
}

func TestDiffGolden(t *testing.T) {
	oldFull, newFull := goldenClosures()
	shrunk := closureOf("nixos-system-web1-24.05.20240901.abc", "system-path", map[string]int64{
		"linux-6.6.58": 130 << 20, "glibc-2.39-52": 30 << 20, "bash-5.2p32": 1 << 20,
	})
	tiny := closureOf("hello-env", "", map[string]int64{"hello-2.12.1": 1000, "glibc-2.39-52": 2000}, "hello-2.12.1")
	tinier := closureOf("hello-env", "", map[string]int64{"hello-2.12.1": 1000, "glibc-2.39-52": 2000})
	tinier.Paths[tinier.Root] = 512

	tests := []struct {
		name     string
		old, new *Closure
	}{
		{"full", oldFull, newFull},
		{"reverse", newFull, oldFull},
		{"empty", oldFull, oldFull},
		{"shrink", oldFull, shrunk},
		{"no-sw", tiny, tinier},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DiffClosures("/nix/var/nix/profiles/system-41-link", "result", tt.old, tt.new)
			var out bytes.Buffer
			if err := d.Render(&out, nil); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "diff", tt.name+".golden"), out.Bytes())
			js, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "diff", tt.name+".json.golden"), append(js, '\n'))
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateDiff {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDiffGolden -update-diff to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestFormatSizeDelta(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "+0B"},
		{512, "+512B"},
		{1023, "+1,023B"},
		{-1023, "-1,023B"},
		{1024, "+1.0KiB"},
		{-3 * 1024, "-3.0KiB"},
		{27*1024*1024 + 100*1024, "+27.1MiB"},
		{-(5<<30 + 600<<20), "-5.6GiB"},
		{1 << 40, "+1.0TiB"},
		{2000 << 50, "+2.0EiB"},
	}
	for _, tt := range tests {
		if got := FormatSizeDelta(tt.n); got != tt.want {
			t.Errorf("FormatSizeDelta(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestCommonVersionPrefix(t *testing.T) {
	tests := []struct {
		old, new []string
		want     int
	}{
		{[]string{"1.15"}, []string{"1.17"}, 2},         // whole "15"/"17"
		{[]string{"1.9.15p2"}, []string{"1.9.15p5"}, 7}, // just the last digit
		{[]string{"2024a"}, []string{"2024b"}, 4},
		{[]string{"6.6.58", "6.6.58-modules"}, []string{"6.6.60"}, 4},
		{[]string{""}, []string{"1.0"}, 3},
		{[]string{"1.0"}, []string{"2.0"}, 0},
		{[]string{"1.0"}, []string{"1.0"}, 3},
	}
	for _, tt := range tests {
		if got := commonVersionPrefix(tt.old, tt.new); got != tt.want {
			t.Errorf("commonVersionPrefix(%q, %q) = %d, want %d", tt.old, tt.new, got, tt.want)
		}
	}
}

// TestDisplayPath checks the header paths against what nvd prints (Python's
// str(pathlib.Path(arg))) for the same arguments.
func TestDisplayPath(t *testing.T) {
	tests := map[string]string{
		"./result":                              "result",
		"result/":                               "result",
		"/run/current-system/":                  "/run/current-system",
		"/nix/var/nix/profiles//system-41-link": "/nix/var/nix/profiles/system-41-link",
		"//x/./y":                               "//x/y",
		"///x":                                  "/x",
		".":                                     ".",
		"./":                                    ".",
		"./.":                                   ".",
		"":                                      ".",
		"a/../b":                                "a/../b",
		"web1:/run/current-system":              "web1:/run/current-system",
	}
	for in, want := range tests {
		if got := DisplayPath(in); got != want {
			t.Errorf("DisplayPath(%q) = %q, want %q", in, got, want)
		}
	}
	d := DiffClosures("./result", "/run/current-system/", closureOf("a", "", nil), closureOf("a", "", nil))
	if d.Old != "result" || d.New != "/run/current-system" {
		t.Errorf("header paths %q, %q; want nvd's result, /run/current-system", d.Old, d.New)
	}
}

// TestDiffSelectionOneSideWithoutSW: when only one side has sw, nvd takes
// the selection of both sides from their top levels' references, not sw's.
func TestDiffSelectionOneSideWithoutSW(t *testing.T) {
	old := closureOf("nixos-system-web1-24.05", "system-path", map[string]int64{"hello-2.12.1": 10}, "hello-2.12.1")
	new := closureOf("hello-env", "", map[string]int64{"hello-2.12.1": 10}, "hello-2.12.1")
	d := DiffClosures("old", "new", old, new)
	var out bytes.Buffer
	d.Render(&out, nil)
	want := `<<< old
>>> new
Selection state changes:
[C+]  #1  hello  2.12.1
Added packages:
[A.]  #1  hello-env  <none>
Removed packages:
[R.]  #1  nixos-system-web1  24.05
[R-]  #2  system-path        <none>
Closure size: 3 -> 2 (1 paths added, 2 paths removed, delta -1, disk usage -2.0KiB).
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestEqualVersionsSpeltApart: of versions that compare equal but are
// spelt differently, nvd shows the one whose path nix-store -qR lists
// last (it sorts stably in that order and keeps a run's last); without
// that order the text decides.
func TestEqualVersionsSpeltApart(t *testing.T) {
	c := closureOf("sys", "", map[string]int64{"eq-1.0": 1, "eq-1-0": 1})
	other := closureOf("sys", "", map[string]int64{})
	dot, dash := sp("eq-1.0", 0), sp("eq-1-0", 0)
	for _, tt := range []struct {
		order []string
		want  string
	}{
		{nil, "[R.]  #1  eq  1.0 x2\n"},
		{[]string{dot, dash, c.Root}, "[R.]  #1  eq  1-0 x2\n"},
		{[]string{dash, dot, c.Root}, "[R.]  #1  eq  1.0 x2\n"},
	} {
		c.Order = tt.order
		var out bytes.Buffer
		DiffClosures("a", "b", c, other).Render(&out, nil)
		if !bytes.Contains(out.Bytes(), []byte(tt.want)) {
			t.Errorf("order %v: want %q in\n%s", tt.order, tt.want, out.String())
		}
	}
}
