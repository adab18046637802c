package fleet_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
)

// TestRolloutHangAfterStopOnLab: nixdeck stops waiting (a second Abort)
// while a host's activation hangs; the host still kills it at its
// activation timeout, by itself, rolls back and frees the switch lock.
func TestRolloutHangAfterStopOnLab(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o, _, before, next := faultyLab(t, ctx)
	const timeout = 5 * time.Second
	quick := func(p *fleet.Plan) {
		p.Canary, p.Policy.Soak = nil, 0
		p.Policy.ConfirmTimeout, p.Policy.ActivationTimeout = time.Minute, timeout
	}
	var stopped time.Time
	abortTwice := func(r *fleet.Rollout, e fleet.Event) {
		// switch-to-configuration runs (and hangs) once this phase is
		// reported.
		if ph, ok := e.(fleet.PhaseEvent); ok && ph.Host() == "canary" && ph.Phase == fleet.PhaseActivating {
			stopped = time.Now()
			r.Abort()
			r.Abort()
		}
	}
	run := o.deployWatching(t, ctx, next, quick, abortTwice, "canary")
	want := "still activating when nixdeck stopped waiting; the host completes or rolls itself back on its own (its activation timeout, 5s, is enforced there)"
	if got := run.outcomes["canary"]; got.Outcome != fleet.OutcomeUnknown || !strings.HasPrefix(got.Cause, want) {
		t.Errorf("canary: %s", run.outcome("canary"))
	}
	// The host's own record; the wait polls on the host, bounded by wctx.
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	status := "/run/nixdeck/" + run.id + "/status"
	wait := `while ! grep -q . ` + status + ` 2>/dev/null; do sleep 0.2; done; cat ` + status
	out, err := o.lab.Exec(wctx, "canary", []string{"sh", "-c", wait}, nil)
	if err != nil || strings.TrimSpace(string(out)) != "rolled-back 0 timeout" {
		t.Fatalf("canary's status %q, %v; want rolled-back 0 timeout", out, err)
	}
	if d := time.Since(stopped); d < timeout {
		t.Errorf("rolled back %s after nixdeck stopped waiting, before the %s timeout", d, timeout)
	}
	if s := o.state(t, ctx, "canary"); s.Current != before["canary"].Current || s.ProfileGeneration != before["canary"].ProfileGeneration {
		t.Errorf("canary runs %s at generation %d", s.Current, s.ProfileGeneration)
	}
	if _, err := o.lab.Exec(ctx, "canary", []string{"flock", "-n", "/run/nixos/switch-to-configuration.lock", "true"}, nil); err != nil {
		t.Errorf("the switch lock is still held: %v", err)
	}
	o.leftClean(t, ctx, "canary")
}
