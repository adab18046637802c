package fleet_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestBuildOnTargetDeploys: with build_on: target each node builds its
// own system (Engine.Build calls nix.BuildOnTarget), this machine's store
// does not get it, and the rollout's copy finds it already there.
func TestBuildOnTargetDeploys(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartWith(t, lab.Options{Hosts: 2})
	setBuildOn(t, l, "target")
	if err := l.Change("", lab.ChangeOptions{Bump: true}); err != nil {
		t.Fatal(err)
	}
	o := openOpsLab(t, l)
	names := []string{"canary", "web01"}
	nodes := []*fleet.Node{o.node(t, "canary"), o.node(t, "web01")}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	systems := map[string]string{}
	for e := range o.eng.Build(ctx, nodes, t.TempDir()).All() {
		switch e := e.(type) {
		case fleet.BuiltEvent:
			systems[e.Host()] = e.System
			if e.Where != "target" {
				t.Errorf("%s: built at %q", e.Host(), e.Where)
			}
		case fleet.DoneEvent:
			if e.Err != nil {
				t.Fatalf("build: %v", e.Err)
			}
		}
	}
	for _, h := range names {
		if systems[h] == "" {
			t.Fatalf("%s: no system in %v", h, systems)
		}
		if out, err := l.Exec(ctx, h, []string{"nix-store", "--check-validity", systems[h]}, nil); err != nil {
			t.Errorf("%s lacks its system: %v %s", h, err, out)
		}
		if exec.CommandContext(ctx, "nix-store", "--check-validity", systems[h]).Run() == nil {
			t.Errorf("%s's system is in this machine's store", h)
		}
	}
	o.diffAndDeploy(t, ctx, nodes, fleet.DiffOptions{Systems: systems, Files: true}, names)
}
