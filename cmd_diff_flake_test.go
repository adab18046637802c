package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/nix/closurebench"
)

// A fleet whose directory holds a space, '#' and '?' builds: each of them
// means something in a flake reference (a URL), so the directory must
// reach Nix intact however it is spelt in the reference.
func TestDiffBuildFlakeDirWithURLCharacters(t *testing.T) {
	closurebench.NeedNix(t)
	dir := filepath.Join(t.TempDir(), "my fleet #1?")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stamp := time.Now().Format(time.RFC3339Nano)
	flake := `{ outputs = { self }: { nixosConfigurations.web1.config.system.build.toplevel = derivation {
    name = "nixos-system-web1"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ` + stamp + ` > $out" ]; }; }; }
`
	fleetFile := "flake: ./\nnodes:\n  web1:\n    host: 127.0.0.1\n"
	for name, text := range map[string]string{"flake.nix": flake, "fleet.yaml": fleetFile} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := fleet.Load(filepath.Join(dir, "fleet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := f.Select("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	built, err := buildSystems(ctx, f, nodes, t.TempDir())
	if err != nil {
		ref, _ := flakeRef(f)
		t.Fatalf("build with the flake in %q (reference %q): %v", dir, ref, err)
	}
	if !strings.HasSuffix(built["web1"], "-nixos-system-web1") {
		t.Errorf("built %v", built)
	}
}
