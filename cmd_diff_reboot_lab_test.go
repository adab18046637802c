package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestDiffRebootHintOnLab: the reboot hint compares the new system with
// the one the host booted, not the one it runs. A host whose new system
// has a new kernel needs a reboot before the switch and still after it,
// when the running system already is the new one.
func TestDiffRebootHintOnLab(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.Start(t, 2)
	web, other := l.Hosts[1].Name, l.Hosts[0].Name
	if err := l.Change(web, lab.ChangeOptions{Fault: "reboot"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	diff := func() map[string]*fleet.HostDiff {
		t.Helper()
		var out bytes.Buffer
		if err := (&diffCmd{JSON: true}).runHosts(ctx, &globals{File: l.FleetPath}, &out); err != nil {
			t.Fatalf("diff: %v\n%s", err, out.String())
		}
		var diffs []*fleet.HostDiff
		if err := json.Unmarshal(out.Bytes(), &diffs); err != nil {
			t.Fatal(err)
		}
		m := map[string]*fleet.HostDiff{}
		for _, d := range diffs {
			m[d.Host] = d
		}
		return m
	}
	wantReboot := []string{"kernel", "initrd", "kernel-modules"}
	before := diff()
	if d := before[web]; !slices.Equal(d.RebootFor, wantReboot) || before[other].RebootNeeded() {
		t.Fatalf("before the switch: %s reboot for %q (want %q), %s %q (want none)", web, d.RebootFor, wantReboot, other, before[other].RebootFor)
	}
	// Switch without rebooting: the host runs the new system, booted the old.
	sys := before[web].New
	if err := l.Import(ctx, web, sys); err != nil {
		t.Fatal(err)
	}
	if out, err := l.Exec(ctx, web, []string{sys + "/bin/switch-to-configuration", "switch"}, nil); err != nil {
		t.Fatalf("switch: %v\n%s", err, out)
	}
	after := diff()[web]
	if after.Current != sys || !after.Diff.Empty() || !slices.Equal(after.RebootFor, wantReboot) || !after.KernelChanged {
		t.Errorf("after the switch: current %s (want %s), empty diff %v, reboot for %q (want %q)",
			after.Current, sys, after.Diff.Empty(), after.RebootFor, wantReboot)
	}
}
