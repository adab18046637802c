package fleet_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
)

// TestDiffCommandsOnLab runs Engine.Diff with --no-db on two lab hosts
// moving to release b and checks by the command events what it cost: each
// host runs two commands, its state and ClosureCmd (one readlink, then
// one nix-store --serve), and this machine reads both built systems in one
// nix-store --serve besides the build.
func TestDiffCommandsOnLab(t *testing.T) {
	l := labtest.Start(t, 2)
	if err := l.Change("*", lab.ChangeOptions{Release: "b"}); err != nil {
		t.Fatal(err)
	}
	f, nodes := loadAll(t, l.FleetPath)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eng := fleet.Open(f, fleet.Options{})
	defer eng.Close()
	hostCmds := map[string][][]string{}
	var localServes int
	diffs := map[string]*fleet.HostDiff{}
	for e := range eng.Diff(ctx, nodes, fleet.DiffOptions{NoDB: true}).All() {
		switch e := e.(type) {
		case fleet.CommandEvent:
			if e.Err != nil {
				t.Errorf("%s: %v: %v", e.Host(), e.Argv, e.Err)
			}
			switch {
			case !e.Local:
				hostCmds[e.Host()] = append(hostCmds[e.Host()], e.Argv)
			case slices.Equal(e.Argv, []string{"nix-store", "--serve"}):
				localServes++
			}
		case fleet.DiffEvent:
			diffs[e.Host()] = e.Diff
		case fleet.DoneEvent:
			if e.Err != nil {
				t.Errorf("%s: %v", e.Host(), e.Err)
			}
		}
	}
	closure := nix.ClosureCmd(nix.CurrentSystemLink).Argv
	for _, n := range nodes {
		cmds := hostCmds[n.Name]
		if len(cmds) != 2 || !slices.Equal(cmds[0], nix.HostStateCmd().Argv) || len(cmds[1]) != len(closure) || cmds[1][2] != closure[2] {
			t.Errorf("%s ran %d commands %q; want the host state, then the closure query", n.Name, len(cmds), cmds)
		}
		if d := diffs[n.Name]; d == nil || d.Diff.Empty() {
			t.Errorf("%s: no diff of its move to release b: %+v", n.Name, d)
		}
	}
	if localServes != 1 {
		t.Errorf("%d local nix-store --serve for the built systems, want 1", localServes)
	}
}
