package main

import (
	"bytes"
	"strings"
	"testing"

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

func TestRenderHost(t *testing.T) {
	old := &nix.Closure{Root: "/nix/store/aaaa-nixos-system-web1-24.05", Kernel: "/nix/store/k1-linux-6.6.58/bzImage",
		Initrd: "/nix/store/i1-initrd-linux-6.6.58/initrd", Refs: []string{"/nix/store/cccc-hello-2.12"},
		Paths: map[string]int64{"/nix/store/aaaa-nixos-system-web1-24.05": 100, "/nix/store/k1-linux-6.6.58": 1000,
			"/nix/store/cccc-hello-2.12": 2048}}
	new := &nix.Closure{Root: "/nix/store/bbbb-nixos-system-web1-24.11", Kernel: "/nix/store/k2-linux-6.6.63/bzImage",
		Initrd: old.Initrd, Refs: []string{"/nix/store/cccc-hello-2.12"},
		Paths: map[string]int64{"/nix/store/bbbb-nixos-system-web1-24.11": 100, "/nix/store/k2-linux-6.6.63": 1000,
			"/nix/store/cccc-hello-2.12": 2048}}
	hd := nix.NewHostDiff("web1", old, new)
	hd.Files = []nix.FileDiff{{Path: "etc/motd", Status: "modified", OldSize: 4, NewSize: 4, Unified: "@@ -1 +1 @@\n-old\n+new\n"}}
	var out bytes.Buffer
	if err := renderHost(&out, hd, nil); err != nil {
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
	renderHost(&out, &nix.HostDiff{Host: "db1", Error: "db1: dial tcp 10.0.0.2:22: connection refused"}, nil)
	if want := "=== db1 ===\nerror: db1: dial tcp 10.0.0.2:22: connection refused\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
