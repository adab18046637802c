package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"nixdeck/fleet"
	"nixdeck/internal/ptytest"
	"nixdeck/nix"
)

func TestDiffUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"diff", "/nix/store/a-x"}, 2},
		{[]string{"diff", "--on", "web1", "/nix/store/a-x", "/nix/store/b-x"}, 2},
		{[]string{"diff", "-f", "/nonexistent/fleet.yaml"}, 2},
		{[]string{"diff", "/nonexistent/old", "/nonexistent/new"}, 1},
	}
	for _, tt := range tests {
		if got := run(tt.args); got != tt.code {
			t.Errorf("nixdeck %s: exit %d, want %d", strings.Join(tt.args, " "), got, tt.code)
		}
	}
}

// An empty argument is a usage error, not the per-host diff that no
// arguments select.
func TestDiffEmptyArgument(t *testing.T) {
	empty, path := "", "/nix/store/b-x"
	for _, args := range [][2]*string{{&empty, &path}, {&path, &empty}, {&empty, &empty}, {&empty, nil}} {
		err := (&diffCmd{Old: args[0], New: args[1]}).Run(context.Background(), &globals{File: "/nonexistent/fleet.yaml"})
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "must not be empty") {
			t.Errorf("diff %q %q: %v, want a usage error about the empty argument", deref(args[0]), deref(args[1]), err)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}

func TestRenderHost(t *testing.T) {
	old := &nix.Closure{Root: "/nix/store/aaaa-nixos-system-web1-24.05", Kernel: "/nix/store/k1-linux-6.6.58/bzImage",
		Initrd: "/nix/store/i1-initrd-linux-6.6.58/initrd", Refs: []string{"/nix/store/cccc-hello-2.12"},
		Paths: map[string]int64{"/nix/store/aaaa-nixos-system-web1-24.05": 100, "/nix/store/k1-linux-6.6.58": 1000,
			"/nix/store/cccc-hello-2.12": 2048}}
	new := &nix.Closure{Root: "/nix/store/bbbb-nixos-system-web1-24.11", Kernel: "/nix/store/k2-linux-6.6.63/bzImage",
		Initrd: old.Initrd, Refs: []string{"/nix/store/cccc-hello-2.12"},
		Paths: map[string]int64{"/nix/store/bbbb-nixos-system-web1-24.11": 100, "/nix/store/k2-linux-6.6.63": 1000,
			"/nix/store/cccc-hello-2.12": 2048}}
	hd := fleet.NewHostDiff("web1", old, new)
	hd.Files = []nix.FileDiff{{Path: "etc/motd", Status: "modified", OldSize: 4, NewSize: 4, Unified: "@@ -1 +1 @@\n-old\n+new\n"}}
	var out bytes.Buffer
	if err := renderHost(&out, hostRow{HostDiff: hd}, nil); err != nil {
		t.Fatal(err)
	}
	want := `=== web1 ===
<<< web1:/run/current-system
>>> /nix/store/bbbb-nixos-system-web1-24.11
Version changes:
[U.]  #1  linux              6.6.58 -> 6.6.63
[U.]  #2  nixos-system-web1  24.05 -> 24.11
Closure size: 3 -> 3 (2 paths added, 2 paths removed, delta +0, disk usage +0B).
Reboot needed: kernel changed since boot.
--- a/etc/motd
+++ b/etc/motd
@@ -1 +1 @@
-old
+new
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	renderHost(&out, hostRow{HostDiff: &fleet.HostDiff{Host: "db1", Error: "db1: dial tcp 10.0.0.2:22: connection refused"}}, nil)
	if want := "=== db1 ===\nerror: db1: dial tcp 10.0.0.2:22: connection refused\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// A node whose build failed gets its own row with its error; an
// interrupted one says so; the others print.
func TestDiffReportRows(t *testing.T) {
	sys := &nix.Closure{Root: "/nix/store/bbbb-nixos-system-web1-24.11", Paths: map[string]int64{"/nix/store/bbbb-nixos-system-web1-24.11": 100}}
	typo := &fleet.HostError{Host: "typo", Step: "build", Err: errors.New("flake 'path:/srv/fleet' does not provide attribute 'nixosConfigurations.nosuch'")}
	stopped := &fleet.HostError{Host: "db1", Err: fmt.Errorf("%w: nix stopped: %w", fleet.ErrInterrupted, context.Canceled)}
	node := func(name string) *fleet.Node { return &fleet.Node{Name: name} }
	rows := diffRows([]fleet.DiffResult{
		{Node: node("web1"), New: sys.Root, Diff: fleet.NewHostDiff("web1", sys, sys)},
		{Node: node("typo"), Err: typo},
		{Node: node("db1"), Err: stopped},
		{Node: node("web2"), New: sys.Root, Err: &fleet.HostError{Host: "web2", Err: fleet.ErrInterrupted}},
	})
	var out bytes.Buffer
	err := (&diffCmd{}).report(&out, rows)
	if want := "diff: 1 of 4 hosts failed, 2 of 4 hosts interrupted"; err == nil || err.Error() != want {
		t.Errorf("report() = %v, want %q", err, want)
	}
	text := out.String()
	for _, want := range []string{
		"=== typo ===\nerror: typo: build: flake 'path:/srv/fleet' does not provide attribute 'nixosConfigurations.nosuch'\n",
		"=== db1 ===\ninterrupted\n", "=== web2 ===\ninterrupted\n", "=== web1 ===\n<<< web1:/run/current-system\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	out.Reset()
	if err := (&diffCmd{JSON: true}).report(&out, rows); err == nil {
		t.Error("report --json succeeded with failed hosts")
	}
	var got []map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0]["interrupted"] != nil || got[1]["interrupted"] != nil || got[2]["interrupted"] != true ||
		got[3]["host"] != "web2" || got[3]["new"] != sys.Root || got[3]["error"] != "interrupted" {
		t.Errorf("json: %v", got)
	}
}

// diff --json names every key in snake_case, as status --json does: the
// per-host rows with all their fields set, and the OLD NEW object.
func TestDiffJSONSnakeCase(t *testing.T) {
	old := &nix.Closure{Root: "/nix/store/aaaa-nixos-system-web1-24.05", Kernel: "/nix/store/k1-linux-6.6.58/bzImage",
		Paths: map[string]int64{"/nix/store/aaaa-nixos-system-web1-24.05": 100, "/nix/store/cccc-gone-1.0": 10}}
	new := &nix.Closure{Root: "/nix/store/bbbb-nixos-system-web1-24.11", Kernel: "/nix/store/k2-linux-6.6.63/bzImage",
		Refs:  []string{"/nix/store/dddd-new-1.0"},
		Paths: map[string]int64{"/nix/store/bbbb-nixos-system-web1-24.11": 100, "/nix/store/dddd-new-1.0": 10}}
	hd := fleet.NewHostDiff("web1", old, new)
	hd.Files = []nix.FileDiff{
		{Path: "etc/localtime", Status: "modified", OldType: nix.KindLink, NewType: nix.KindLink, OldLink: "/a", NewLink: "/b"},
		{Path: "etc/big", Status: "added", OldSize: -1, NewSize: 1 << 20, NewType: nix.KindFile, TooLarge: true},
		{Path: "etc/bin", Status: "modified", OldType: nix.KindFile, NewType: nix.KindFile, Binary: true},
	}
	var out bytes.Buffer
	rows := diffRows([]fleet.DiffResult{{Node: &fleet.Node{Name: "web1"}, Diff: hd},
		{Node: &fleet.Node{Name: "db1"}, Err: &fleet.HostError{Host: "db1", Err: fleet.ErrInterrupted}}})
	if err := (&diffCmd{JSON: true}).report(&out, rows); err == nil {
		t.Error("report --json succeeded with an interrupted host")
	}
	keys := jsonKeys(t, out.Bytes())
	for _, want := range []string{"reboot_for", "kernel_changed", "initrd_changed", "version_changes", "selection_changes",
		"old_paths", "new_paths", "paths_added", "paths_removed", "old_size", "new_size", "old_type", "new_type",
		"too_large", "old_link", "new_link", "interrupted"} {
		if !keys[want] {
			t.Errorf("per-host JSON lacks %q: %s", want, out.String())
		}
	}
	out.Reset()
	if err := writeJSON(&out, localDiffJSON(hd.Diff, hd.Files)); err != nil {
		t.Fatal(err)
	}
	if keys := jsonKeys(t, out.Bytes()); !keys["files"] || !keys["version_changes"] {
		t.Errorf("OLD NEW JSON lacks files or version_changes: %s", out.String())
	}
}

// jsonKeys collects every object key in doc, failing on one that is not
// snake_case.
func jsonKeys(t *testing.T, doc []byte) map[string]bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if strings.Trim(k, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
					t.Errorf("JSON key %q is not snake_case", k)
				}
				keys[k] = true
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return keys
}

// On a terminal the per-host diff is coloured, unless NO_COLOR is set to
// something.
func TestDiffReportColoursOnTerminal(t *testing.T) {
	old := &nix.Closure{Root: "/nix/store/aaaa-nixos-system-web1-24.05", Paths: map[string]int64{"/nix/store/aaaa-nixos-system-web1-24.05": 100}}
	new := &nix.Closure{Root: "/nix/store/bbbb-nixos-system-web1-24.11", Paths: map[string]int64{"/nix/store/bbbb-nixos-system-web1-24.11": 100}}
	rows := []hostRow{{HostDiff: fleet.NewHostDiff("web1", old, new)}}
	for _, noColor := range []string{"", "1"} {
		t.Setenv("NO_COLOR", noColor)
		tty, ptmx := ptytest.Open(t)
		if err := (&diffCmd{}).report(tty, rows); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		out, _ := io.ReadAll(ptmx) // ends in EIO once the terminal side is closed
		coloured := bytes.Contains(out, []byte("[\x1b[96mU\x1b[m\x1b[32m.\x1b[m]"))
		if plain := bytes.Contains(out, []byte("[U.]  #1  nixos-system-web1  24.05 -> 24.11")); coloured == plain || coloured != (noColor == "") {
			t.Errorf("NO_COLOR=%q: the terminal got\n%q", noColor, out)
		}
	}
}
