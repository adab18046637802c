package fleet_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab/labtest"
)

// TestBuildKeepsRoots checks that the systems Engine.Build builds are
// gc roots while it works with them, so a garbage collection running at
// the same time cannot delete a system before --files reads it.
func TestBuildKeepsRoots(t *testing.T) {
	l := labtest.Start(t, 1)
	f, nodes := loadAll(t, l.FleetPath)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eng := fleet.Open(f, fleet.Options{})
	defer eng.Close()
	built, err := builtSystems(ctx, eng, nodes, dir)
	if err != nil || len(built) != len(nodes) {
		t.Fatalf("built %v: %v", built, err)
	}
	for node, p := range built {
		out, err := exec.CommandContext(ctx, "nix-store", "--query", "--roots", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), dir+"/") {
			t.Errorf("%s: %s has no gc root in %s; roots:\n%s", node, p, dir, out)
		}
	}
}
