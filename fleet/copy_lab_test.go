package fleet_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestCopySystemOnLab copies one closure to four lab hosts at once, one
// of them down: the three others end up holding it, with progress, and
// the down one ends with its own error. The lab is mixed: db01 and the
// down web02 run Nix 2.26.
func TestCopySystemOnLab(t *testing.T) {
	o := startMixedOpsLab(t, 4)
	if err := o.lab.SetHost("web02", false); err != nil {
		t.Fatal(err)
	}
	sys := nixtest.SizedClosure(t, 30, 4<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	closure, err := nix.Requisites(ctx, nix.LocalRunner{}, []string{sys})
	if err != nil {
		t.Fatal(err)
	}
	var ns []*fleet.Node
	for _, h := range o.lab.Hosts {
		ns = append(ns, o.node(t, h.Name))
	}
	progress := map[string]nix.CopyProgress{}
	done := map[string]error{}
	for e := range o.eng.CopySystem(ctx, ns, sys).All() {
		switch e := e.(type) {
		case fleet.CopyEvent:
			progress[e.Host()] = e.CopyProgress
		case fleet.DoneEvent:
			done[e.Host()] = e.Err
		}
	}
	if err := done["web02"]; err == nil || !strings.Contains(err.Error(), "web02") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("web02 (down): %v, want its dial error", err)
	}
	for _, h := range []string{"canary", "web01", "db01"} {
		if err := done[h]; err != nil {
			t.Errorf("%s: %v", h, err)
			continue
		}
		if p := progress[h]; p.PathsDone != len(closure) || p.BytesDone < 4<<20 {
			t.Errorf("%s: last progress %+v, want %d paths and at least 4 MiB", h, p, len(closure))
		}
		out, err := o.lab.Exec(ctx, h, append([]string{"nix-store", "--check-validity", "--print-invalid"}, closure...), nil)
		if err != nil || len(out) != 0 {
			t.Errorf("%s lacks %q after the copy (%v)", h, out, err)
		}
	}
}
