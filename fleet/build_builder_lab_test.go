package fleet_test

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestBuildOnBuilderDeploys: with build_on: builder:build01 the systems
// are built in the builder's store (this machine's store gets their .drv
// files, not the systems), the diff reads them there, and a rollout
// relays them from the builder to 3 hosts, which then run them. The
// builder's GC roots last until the Engine closes. Once with the
// machine's Nix 2.8 everywhere, once with a current-Nix builder and one
// current-Nix target.
func TestBuildOnBuilderDeploys(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	t.Run("nix-2.8", func(t *testing.T) { testBuildOnBuilder(t, lab.Options{Hosts: 3, Builders: 1}) })
	t.Run("current-nix", func(t *testing.T) {
		labtest.Root(t)
		testBuildOnBuilder(t, lab.Options{Hosts: 3, Builders: 1, CurrentOn: "build01,db01"})
	})
}

func testBuildOnBuilder(t *testing.T, opts lab.Options) {
	l := labtest.StartWith(t, opts)
	setBuildOn(t, l, "builder:build01")
	// Systems no other test built: they cannot be in this machine's store.
	if err := l.Change("", lab.ChangeOptions{Bump: true}); err != nil {
		t.Fatal(err)
	}
	o := openOpsLab(t, l)
	var nodes []*fleet.Node
	var names []string
	for _, h := range l.Nodes() {
		nodes = append(nodes, o.node(t, h.Name))
		names = append(names, h.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	systems := map[string]string{}
	var buildLog []string
	for e := range o.eng.Build(ctx, nodes, t.TempDir()).All() {
		switch e := e.(type) {
		case fleet.BuiltEvent:
			systems[e.Host()] = e.System
			if e.Where != "builder:build01" {
				t.Errorf("%s: built at %q", e.Host(), e.Where)
			}
		case fleet.LogEvent:
			buildLog = append(buildLog, e.Line)
		case fleet.DoneEvent:
			if e.Err != nil {
				t.Fatalf("build: %v", e.Err)
			}
		case fleet.OpFinished:
			if e.Err != nil {
				t.Fatalf("build: %v", e.Err)
			}
		}
	}
	if len(systems) != 3 {
		t.Fatalf("systems %v", systems)
	}
	outs := slices.Compact(slices.Sorted(maps.Values(systems)))
	// Here: the systems are not valid, their derivations are.
	invalid, err := exec.CommandContext(ctx, "nix-store", append([]string{"--check-validity", "--print-invalid"}, outs...)...).Output()
	if err != nil || len(strings.Fields(string(invalid))) != len(outs) {
		t.Errorf("this machine's store holds built systems: invalid %q of %q (%v)", invalid, outs, err)
	}
	drvs, err := l.Exec(ctx, "build01", append([]string{"nix-store", "--query", "--deriver"}, outs...), nil)
	if err != nil || len(strings.Fields(string(drvs))) != len(outs) {
		t.Fatalf("derivers on the builder: %q %v", drvs, err)
	}
	if out, err := exec.CommandContext(ctx, "nix-store", append([]string{"--check-validity"}, strings.Fields(string(drvs))...)...).CombinedOutput(); err != nil {
		t.Errorf("the derivations are not here: %v %s", err, out)
	}
	// There: valid, and rooted.
	if out, err := l.Exec(ctx, "build01", append([]string{"nix-store", "--check-validity"}, outs...), nil); err != nil {
		t.Errorf("the builder lacks the systems: %v %s", err, out)
	}
	roots, err := l.Exec(ctx, "build01", []string{"ls", nix.GCRootDir}, nil)
	if err != nil || len(strings.Fields(string(roots))) != len(outs) {
		t.Errorf("builder GC roots %q (%v), want %d", roots, err, len(outs))
	}
	if !slices.ContainsFunc(buildLog, func(s string) bool { return strings.Contains(s, "building") }) {
		t.Errorf("no build output in the log: %q", buildLog)
	}

	// The diff reads the new systems on the builder.
	o.diffAndDeploy(t, ctx, nodes, fleet.DiffOptions{Systems: systems}, names)
	// Still only the derivations here after the relay.
	invalid, err = exec.CommandContext(ctx, "nix-store", append([]string{"--check-validity", "--print-invalid"}, outs...)...).Output()
	if err != nil || len(strings.Fields(string(invalid))) != len(outs) {
		t.Errorf("after the deploy this machine's store holds systems: invalid %q (%v)", invalid, err)
	}
	if err := o.eng.Close(); err != nil {
		t.Fatal(err)
	}
	if roots, err := l.Exec(ctx, "build01", []string{"ls", "-A", nix.GCRootDir}, nil); err != nil || strings.TrimSpace(string(roots)) != "" {
		t.Errorf("builder GC roots left after Close: %q (%v)", roots, err)
	}
}

// setBuildOn makes every node of the lab's fleet file build on w.
func setBuildOn(t *testing.T, l *lab.Lab, w string) {
	t.Helper()
	b, err := os.ReadFile(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "\ndefaults:\n", "\ndefaults:\n  build_on: "+w+"\n", 1)
	if s == string(b) {
		t.Fatal("no defaults section in the lab's fleet file")
	}
	if err := os.WriteFile(l.FleetPath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRelayLargeClosure relays a 3,000-path closure (the size of a real
// NixOS system) from a builder to a host: the reading side's commands
// run on the builder over SSH, where one command line is a single string
// capped at 128 KiB, and 3,000 store paths take ~180 KiB.
func TestRelayLargeClosure(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartWith(t, lab.Options{Hosts: 1, Builders: 1})
	o := openOpsLab(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sys := nixtest.LargeClosure(t, 3000)
	builder, err := o.conn.Runner(ctx, o.f.Builder("build01").Node())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nix.Copy(ctx, nix.LocalRunner{}, builder, nix.CopyRequest{Paths: []string{sys}}); err != nil {
		t.Fatalf("put the closure on the builder: %v", err)
	}
	host, err := o.conn.Runner(ctx, o.node(t, "canary"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := nix.Copy(ctx, builder, host, nix.CopyRequest{Paths: []string{sys}})
	if err != nil {
		t.Fatalf("relay: %v", err)
	}
	if res.Closure != 3001 || len(res.Missing) != 3001 {
		t.Errorf("relayed %d of %d paths", len(res.Missing), res.Closure)
	}
	if out, err := l.Exec(ctx, "canary", []string{"nix-store", "--check-validity", sys}, nil); err != nil {
		t.Errorf("the host lacks the closure: %v %s", err, out)
	}
}

// diffAndDeploy diffs nodes against opts.Systems, which must work for
// each, then deploys them to names, each of which must end done and
// running its system, wherever that system was built.
func (o *opsLab) diffAndDeploy(t *testing.T, ctx context.Context, nodes []*fleet.Node, opts fleet.DiffOptions, names []string) {
	t.Helper()
	diffs, err := fleet.CollectDiffs(nodes, o.eng.Diff(ctx, nodes, opts).All())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		if d.Err != nil || d.Diff == nil {
			t.Errorf("%s: diff %v", d.Node.Name, d.Err)
		}
	}
	run := o.deploy(t, ctx, opts.Systems, nil, names...)
	for _, h := range names {
		if oc := run.outcomes[h]; oc.Outcome != fleet.OutcomeDone {
			t.Errorf("%s: %s, commands %q", h, run.outcome(h), run.commands[h])
		}
		if st := o.state(t, ctx, h); st.Current != opts.Systems[h] {
			t.Errorf("%s runs %s, want %s", h, st.Current, opts.Systems[h])
		}
	}
}
