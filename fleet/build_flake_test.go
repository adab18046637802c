package fleet_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/nix/nixtest"
)

// A fleet whose directory holds a space, '#' and '?' builds: each of them
// means something in a flake reference (a URL), so the directory must
// reach Nix intact however it is spelt in the reference.
func TestBuildFlakeDirWithURLCharacters(t *testing.T) {
	nixtest.NeedNix(t)
	dir := filepath.Join(t.TempDir(), "my fleet #1?")
	stamp := time.Now().Format(time.RFC3339Nano)
	writeFlakeFleet(t, dir, `"echo `+stamp+` > $out"`)
	if out := buildWeb1(t, dir); !strings.Contains(out, stamp) {
		t.Errorf("the system holds %q, want the stamp %s", out, stamp)
	}
}

// The same in a git checkout whose top-level and fleet subdirectory both
// hold those characters: Nix builds the working tree (an uncommitted
// change is in), and a file git does not track stays out of the store.
func TestBuildFlakeCheckoutWithURLCharacters(t *testing.T) {
	nixtest.NeedNix(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("needs git: %v", err)
	}
	repo := filepath.Join(t.TempDir(), "my infra #1?")
	dir := filepath.Join(repo, "my fleet #2?")
	// The system lists its flake's source, found with the shell's globs
	// (the sandbox has no ls).
	list := `"echo STAMP > $out; for f in ${self}/* ${self}/*/*; do echo \"$f\" >> $out; done"`
	writeFlakeFleet(t, dir, strings.ReplaceAll(list, "STAMP", "committed"))
	for _, args := range [][]string{{"init", "-q"}, {"add", "--", "."}, {"commit", "-q", "-m", "fleet"}} {
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
	}
	stamp := time.Now().Format(time.RFC3339Nano)
	writeFlakeFleet(t, dir, strings.ReplaceAll(list, "STAMP", stamp))
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("untracked\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := buildWeb1(t, dir)
	if !strings.Contains(out, stamp) || !strings.Contains(out, "/my fleet #2?/flake.nix\n") || strings.Contains(out, "secret.txt") {
		t.Errorf("the system lists:\n%s\nwant the uncommitted stamp %s, flake.nix and no secret.txt", out, stamp)
	}
}

// writeFlakeFleet writes into dir a fleet file with one node, web1, and a
// flake whose system runs the shell command script (a Nix string).
func writeFlakeFleet(t *testing.T, dir, script string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	flake := `{ outputs = { self }: { nixosConfigurations.web1.config.system.build.toplevel = derivation {
    name = "nixos-system-web1"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" ` + script + ` ]; }; }; }
`
	fleetFile := "flake: ./\nnodes:\n  web1:\n    host: 127.0.0.1\n"
	for name, text := range map[string]string{"flake.nix": flake, "fleet.yaml": fleetFile} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// buildWeb1 builds the system of the fleet in dir as diff does and
// returns what the system's file holds.
func buildWeb1(t *testing.T, dir string) string {
	t.Helper()
	f, nodes := loadAll(t, filepath.Join(dir, "fleet.yaml"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng := fleet.Open(f, fleet.Options{})
	defer eng.Close()
	built, err := builtSystems(ctx, eng, nodes, t.TempDir())
	if err != nil {
		req, _ := f.BuildRequest(nil, "")
		t.Fatalf("build with the flake in %q (reference %q, run in %q): %v", dir, req.Flake, req.WorkDir, err)
	}
	if !strings.HasSuffix(built["web1"], "-nixos-system-web1") {
		t.Fatalf("built %v", built)
	}
	b, err := os.ReadFile(built["web1"])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loadAll loads the fleet file at path and selects all its nodes.
func loadAll(t *testing.T, path string) (*fleet.Fleet, []*fleet.Node) {
	t.Helper()
	f, err := fleet.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := f.Select("")
	if err != nil {
		t.Fatal(err)
	}
	return f, nodes
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
