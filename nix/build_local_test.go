package nix_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// testFlake writes a flake with NixOS-shaped attributes built from plain
// derivations; bad fails to build. stamp makes the outputs unique per run.
func testFlake(t *testing.T) nix.Flake {
	dir := t.TempDir()
	stamp := time.Now().Format(time.RFC3339Nano)
	flake := `{
  outputs = { self }: let
    mk = name: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh";
      args = [ "-c" "echo building ${name}; echo STAMP > $out" ]; };
  in {
    nixosConfigurations.web1.config.system.build.toplevel = mk "nixos-system-web1-test";
    nixosConfigurations.db1.config.system.build.toplevel = mk "nixos-system-db1-test";
    nixosConfigurations.bad.config.system.build.toplevel = derivation { name = "nixos-system-bad"; system = "x86_64-linux";
      builder = "/bin/sh"; args = [ "-c" "echo STAMP; echo this system is broken >&2; exit 3" ]; };
  };
}
`
	flake = strings.ReplaceAll(flake, "STAMP", stamp)
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	ref, err := nix.FlakeRef(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func toplevel(n string) string { return "nixosConfigurations." + n + ".config.system.build.toplevel" }

func TestBuildLocalFlake(t *testing.T) {
	nixtest.NeedNix(t)
	flake := testFlake(t)
	roots := t.TempDir()
	var logs []string
	req := nix.BuildRequest{Flake: flake.Ref, WorkDir: flake.Dir, RootDir: roots,
		Attrs: map[string]string{"web1": toplevel("web1"), "db1": toplevel("db1"), "db2": toplevel("db1"), "bad": toplevel("bad")},
		Log:   func(l string) { logs = append(logs, l) }}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := nix.Build(ctx, nix.LocalRunner{}, req)
	var be *nix.BuildError
	if !errors.As(err, &be) || strings.Join(be.Nodes, ",") != "bad" {
		t.Fatalf("Build() error = %v, want a BuildError for node bad", err)
	}
	if !strings.Contains(be.Tail, "this system is broken") {
		t.Errorf("error tail lacks the builder's message: %q", be.Tail)
	}
	for n, suffix := range map[string]string{"web1": "-nixos-system-web1-test", "db1": "-nixos-system-db1-test", "db2": "-nixos-system-db1-test"} {
		if !strings.HasSuffix(got[n], suffix) {
			t.Errorf("node %s built %q, want …%s", n, got[n], suffix)
		}
	}
	if len(logs) == 0 {
		t.Error("no build output reached the log")
	}
	links, _ := filepath.Glob(filepath.Join(roots, "*"))
	if len(links) == 0 {
		t.Error("no gc roots under RootDir")
	}
	delete(req.Attrs, "bad")
	again, err := nix.Build(ctx, nix.LocalRunner{}, req)
	if err != nil || again["db2"] != got["db2"] || again["web1"] != got["web1"] {
		t.Fatalf("rebuild = %v, %v; want %v", again, err, got)
	}
}

func TestBuildLocalClassic(t *testing.T) {
	nixtest.NeedNix(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "default.nix")
	expr := `let mk = name: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ` +
		dir + ` > $out" ]; }; in { a = mk "sys-a"; b = mk "sys-b"; }`
	if err := os.WriteFile(file, []byte(expr), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := nix.Build(context.Background(), nix.LocalRunner{}, nix.BuildRequest{File: file, Attrs: map[string]string{"x": "b", "y": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(got["x"], "-sys-b") || !strings.HasSuffix(got["y"], "-sys-a") {
		t.Errorf("Build() = %v", got)
	}
}

// TestBuildLocalCancel cancels a build while its builder runs: Build
// returns a cancellation, and neither Nix nor its builder (which Nix runs
// in a session of its own, as a build user) is left running.
func TestBuildLocalCancel(t *testing.T) {
	nixtest.NeedNix(t)
	name, value := nixtest.Marker(t)
	dir := t.TempDir()
	flake := `{ outputs = { self }: { sleeper = derivation { name = "sleeper"; system = "x86_64-linux";
    builder = "/bin/sh"; args = [ "-c" "/bin/sleep 1000" ]; ` + name + ` = "` + value + `"; }; }; }`
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := nix.Build(ctx, nix.LocalRunner{}, nix.BuildRequest{Flake: "path:" + dir, RootDir: t.TempDir(),
			Attrs: map[string]string{"web1": "sleeper"}})
		done <- err
	}()
	nixtest.WaitProcs(t, name, value, 1, 2*time.Minute, done)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Build() = %v, want context.Canceled", err)
	}
	nixtest.WaitNoProcs(t, name, value, 30*time.Second)
}

// A node whose attribute does not exist fails alone with Nix's message;
// the other node still gets its system and its gc root.
func TestBuildLocalBadAttr(t *testing.T) {
	nixtest.NeedNix(t)
	flake := testFlake(t)
	roots := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := nix.Build(ctx, nix.LocalRunner{}, nix.BuildRequest{Flake: flake.Ref, WorkDir: flake.Dir, RootDir: roots,
		Attrs: map[string]string{"web1": toplevel("web1"), "typo": toplevel("nosuch")}})
	ne := nix.NodeErrors(err)
	if len(ne) != 1 || ne["typo"] == nil {
		t.Fatalf("Build() error = %v, want one for node typo", err)
	}
	if msg := ne["typo"].Cause(); !strings.Contains(msg, "nosuch") || strings.Contains(msg, "--extra-experimental-features") {
		t.Errorf("typo's error %q should name the attribute and leave the command line out", msg)
	}
	if !strings.HasSuffix(got["web1"], "-nixos-system-web1-test") || len(got) != 1 {
		t.Fatalf("Build() = %v, want web1's system", got)
	}
	out, err := exec.CommandContext(ctx, "nix-store", "--query", "--roots", got["web1"]).Output()
	if err != nil || !strings.Contains(string(out), roots+"/") {
		t.Errorf("web1's system has no gc root in %s: %s %v", roots, out, err)
	}
}
