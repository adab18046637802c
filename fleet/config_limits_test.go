package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// parseErrors parses text and returns its errors, one per line.
func parseErrors(t *testing.T, text string) []string {
	t.Helper()
	_, err := Parse("fleet.yaml", "/srv/fleet/fleet.yaml", []byte(text))
	var fes FileErrors
	if !errors.As(err, &fes) {
		t.Fatalf("error = %v (%T), want FileErrors", err, err)
	}
	return strings.Split(fes.Error(), "\n")
}

// laughs is a "billion laughs": nine levels, each naming the one below
// nine times, as lists or as merge keys.
func laughs(merge bool) string {
	var b strings.Builder
	b.WriteString("flake: ./\nx-0: &a {host: h}\n")
	for i := 1; i <= 9; i++ {
		refs := strings.TrimSuffix(strings.Repeat("*"+string(rune('a'+i-1))+",", 9), ",")
		if merge {
			refs = "{<<: [" + refs + "]}"
		} else {
			refs = "[" + refs + "]"
		}
		fmt.Fprintf(&b, "x-%d: &%c %s\n", i, 'a'+i, refs)
	}
	b.WriteString("nodes:\n  a: {<<: *j, tags: *j}\n")
	return b.String()
}

// TestBillionLaughs: a few hundred bytes that would expand into 9^9
// values are refused before the decoder walks them. The time bound is
// only a generous failure bound: the check is linear in the file.
func TestBillionLaughs(t *testing.T) {
	// Each level is 9 of the one below plus the list (1), or plus the
	// mapping, the << key and the list (3); level 0 is 3 values.
	for merge, want := range map[bool]string{false: "1210689028", true: "1307544150"} {
		text := laughs(merge)
		if len(text) > 500 {
			t.Fatalf("the test file is %d bytes, want a few hundred", len(text))
		}
		start := time.Now()
		got := parseErrors(t, text)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("merge=%v: refused after %s", merge, d)
		}
		want := "fleet.yaml:13:11: aliases expand the file by more than 1000000 values (*j alone brings in " + want + " values); a fleet file's aliases and merge keys may add at most 1000000"
		if len(got) != 1 || got[0] != want {
			t.Errorf("merge=%v: errors\n%s\nwant\n%s", merge, strings.Join(got, "\n"), want)
		}
	}
}

// TestAliasExpansionLimit checks the count at the limit: each use of *a
// brings in 6 values (the list and its 5 elements).
func TestAliasExpansionLimit(t *testing.T) {
	for uses, wantErr := range map[int]bool{1: false, 2: false, 3: true} {
		text := "a: &a [1, 2, 3, 4, 5]\nb: [" + strings.TrimSuffix(strings.Repeat("*a, ", uses), ", ") + "]\n"
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatal(err)
		}
		if e := aliasExpansion("f.yaml", doc.Content[0], 12); (e != nil) != wantErr {
			t.Errorf("%d uses of 6 values, limit 12: error %v, want one: %v", uses, e, wantErr)
		}
	}
	// An alias inside what it names is a cycle the decoder never
	// expands: it counts once, and measuring it ends.
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: &a [x, *a]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if e := aliasExpansion("f.yaml", doc.Content[0], 1); e != nil {
		t.Errorf("cycle: %v", e)
	}
}

// TestManyMerges: a large fleet that merges a base into every node stays
// well inside the limit.
func TestManyMerges(t *testing.T) {
	var b strings.Builder
	b.WriteString("flake: ./\nx-base: &base {user: deploy, port: 2222, sudo: always, build_on: target, tags: [web, eu]}\nnodes:\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "  n%d: {<<: *base, host: h%d}\n", i, i)
	}
	f, err := Parse("fleet.yaml", "/srv/fleet.yaml", []byte(b.String()))
	if err != nil || len(f.Nodes) != 5000 || f.Nodes[4999].Port != 2222 {
		t.Fatalf("Parse: %v", err)
	}
}

func TestFileSize(t *testing.T) {
	atCap := "# " + strings.Repeat("x", MaxFileSize-3) + "\n"
	if got := parseErrors(t, atCap); got[0] != "fleet.yaml:1:1: the file is empty; it needs flake (or file) and nodes" {
		t.Errorf("a file of exactly %d bytes: %v", MaxFileSize, got)
	}
	path := filepath.Join(t.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(atCap+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := path + ": the file is larger than 4 MiB, the most a fleet file may be"; err == nil || err.Error() != want {
		t.Errorf("Load(one byte over) = %v, want %s", err, want)
	}
}

// TestEncodingErrors: what the YAML parser reports without a position
// gets a line and column, counted as YAML counts lines.
func TestEncodingErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"UTF-16 LE", "\xff\xfef\x00l\x00:\x00", "fleet.yaml:1:1: the file is UTF-16 (it starts with a byte order mark); save it as UTF-8"},
		{"UTF-16 BE", "\xfe\xff\x00f\x00l", "fleet.yaml:1:1: the file is UTF-16 (it starts with a byte order mark); save it as UTF-8"},
		{"UTF-16 without a BOM", "f\x00l\x00", "fleet.yaml:1:2: NUL byte: is the file UTF-16 or binary? save it as UTF-8 text"},
		{"Latin-1", "flake: ./\nnodes:\n  caf\xe9: {host: h}\n", "fleet.yaml:3:6: byte 0xE9 is not UTF-8; save the file as UTF-8"},
		{"escape", "flake: ./\r\nnodes:\r\n  a: {host: \x1b[31mh}\r\n", "fleet.yaml:3:13: control character U+001B; write it as an escape in a double-quoted string"},
		{"lone CR", "flake: ./\rnodes:\r  a: {host: h\x7f}\r", "fleet.yaml:3:14: control character U+007F; write it as an escape in a double-quoted string"},
		{"C1 after non-ASCII", "# é\u0085\n", "fleet.yaml:1:4: control character U+0085; write it as an escape in a double-quoted string"},
	}
	for _, c := range cases {
		if got := parseErrors(t, c.text); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: errors\n%s\nwant\n%s", c.name, strings.Join(got, "\n"), c.want)
		}
	}
	if _, err := Parse("fleet.yaml", "/srv/fleet.yaml", []byte("\xef\xbb\xbf"+ok)); err != nil {
		t.Errorf("a UTF-8 byte order mark: %v", err)
	}
	got := parseErrors(t, strings.Repeat("a: \x00\x00\n", 20))
	if len(got) != maxEncodingErrors+1 || got[1] != "fleet.yaml:2:4: NUL byte: is the file UTF-16 or binary? save it as UTF-8 text" ||
		got[maxEncodingErrors] != "fleet.yaml:11:4: more lines have encoding errors; only the first ones are listed" {
		t.Errorf("20 bad lines:\n%s", strings.Join(got, "\n"))
	}
}
