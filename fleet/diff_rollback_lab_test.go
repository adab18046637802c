package fleet_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/nix"
)

// On a lab whose hosts were switched to release b, DiffRollback shows
// what going back to generation 1 changes: the forward diff turned round,
// read from the host alone. A generation the host lacks is its error.
func TestDiffRollbackOnLab(t *testing.T) {
	o := startOpsLab(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	hosts := []string{"canary", "web01"}
	nodes := []*fleet.Node{o.node(t, "canary"), o.node(t, "web01")}
	gen1 := map[string]string{}
	for _, h := range hosts {
		gen1[h] = o.state(t, ctx, h).Current
	}
	b := o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, hosts...)
	forward, err := fleet.CollectDiffs(nodes, o.eng.Diff(ctx, nodes, fleet.DiffOptions{Systems: b}).All())
	if err != nil {
		t.Fatal(err)
	}
	o.copyAll(t, ctx, b)
	for _, h := range hosts {
		if res, _, err := o.activate(t, ctx, h, nix.ActivateRequest{Action: nix.Switch, Path: b[h]}); err != nil || res.Outcome != nix.OutcomeDone {
			t.Fatalf("%s: switch to b: %+v %v", h, res, err)
		}
	}

	for _, to := range []int{0, 1} {
		back, err := fleet.CollectDiffs(nodes, o.eng.DiffRollback(ctx, nodes, to).All())
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range back {
			h := hosts[i]
			if r.Err != nil {
				t.Fatalf("to %d: %s: %v", to, h, r.Err)
			}
			d, f := r.Diff, forward[i].Diff
			if d.Current != b[h] || d.New != gen1[h] {
				t.Errorf("to %d: %s: diff of %s against %s, want b against generation 1", to, h, d.Current, d.New)
			}
			if d.Diff.Empty() || len(d.Diff.Versions) != len(f.Diff.Versions) {
				t.Fatalf("to %d: %s: %d version changes, the deploy had %d", to, h, len(d.Diff.Versions), len(f.Diff.Versions))
			}
			for j, c := range d.Diff.Versions {
				fc := f.Diff.Versions[j]
				if c.Name != fc.Name || !slices.Equal(c.Old, fc.New) || !slices.Equal(c.New, fc.Old) {
					t.Errorf("to %d: %s: %+v is not the deploy's %+v turned round", to, h, c, fc)
				}
			}
			if d.Diff.OldSize != f.Diff.NewSize || d.Diff.NewSize != f.Diff.OldSize {
				t.Errorf("to %d: %s: sizes %d→%d, the deploy's %d→%d", to, h, d.Diff.OldSize, d.Diff.NewSize, f.Diff.OldSize, f.Diff.NewSize)
			}
		}
	}
	missing := fleet.CollectStates(nodes[:1], o.eng.DiffRollback(ctx, nodes[:1], 7).All())
	if err := missing[0].Err; err == nil || !strings.Contains(err.Error(), "canary") || !strings.Contains(err.Error(), "7") {
		t.Errorf("a rollback diff to a generation the host lacks: %v", err)
	}
}
