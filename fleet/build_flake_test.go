package fleet_test

import (
	"context"
	"errors"
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
func TestBuildFlakeDirWithURLCharacters(t *testing.T) {
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
	eng := fleet.Open(f, fleet.Options{})
	defer eng.Close()
	built, err := builtSystems(ctx, eng, nodes, t.TempDir())
	if err != nil {
		req, _ := f.BuildRequest(nil, "")
		t.Fatalf("build with the flake in %q (reference %q): %v", dir, req.Flake, err)
	}
	if !strings.HasSuffix(built["web1"], "-nixos-system-web1") {
		t.Errorf("built %v", built)
	}
}

// builtSystems runs Engine.Build and returns each node's system, or the
// errors of the nodes left without one.
func builtSystems(ctx context.Context, eng *fleet.Engine, nodes []*fleet.Node, rootDir string) (map[string]string, error) {
	built := map[string]string{}
	var errs []error
	for e := range eng.Build(ctx, nodes, rootDir).All() {
		switch e := e.(type) {
		case fleet.BuiltEvent:
			built[e.Host()] = e.System
		case fleet.DoneEvent:
			errs = append(errs, e.Err)
		}
	}
	return built, errors.Join(errs...)
}
