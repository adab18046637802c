package fleet_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/nix"
)

// Lab tests of hosts that must go back by themselves: magic rollback and
// Abort, on a lab whose next systems hang or lock SSH out.

// TestRolloutMagicRollbackOnLab: a switch that locks SSH out and one that
// hangs both roll back by themselves, in time, and are reported so, never
// done; the host beside them is switched.
func TestRolloutMagicRollbackOnLab(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o, hosts, before, next := faultyLab(t, ctx)
	const confirm, timeout = 5 * time.Second, 10 * time.Second
	activating := map[string]time.Time{}
	took := map[string]time.Duration{} // from its activation to its outcome
	watch := func(r *fleet.Rollout, e fleet.Event) {
		switch e := e.(type) {
		case fleet.PhaseEvent:
			if e.Phase == fleet.PhaseActivating {
				activating[e.Host()] = e.Time
			}
		case fleet.HostOutcome:
			took[e.Host()] = e.Time.Sub(activating[e.Host()])
		}
	}
	run := o.deployWatching(t, ctx, next, func(p *fleet.Plan) {
		p.Canary, p.Policy.Soak, p.Policy.MaxFailures = nil, 0, 5
		p.Policy.ConfirmTimeout, p.Policy.ActivationTimeout = confirm, timeout
	}, watch, hosts...)
	for h, want := range map[string]string{"web01": nix.CauseNoSSH, "canary": nix.CauseTimedOut} {
		got := run.outcomes[h]
		if got.Outcome != fleet.OutcomeRolledBack || !strings.HasPrefix(got.Cause, want) {
			t.Errorf("%s: %s, want rolled back: %s", h, run.outcome(h), want)
		}
		if s := o.state(t, ctx, h); s.Current != before[h].Current || s.ProfileGeneration != before[h].ProfileGeneration {
			t.Errorf("%s runs %s at generation %d, want %s at %d", h, s.Current, s.ProfileGeneration, before[h].Current, before[h].ProfileGeneration)
		}
		o.leftClean(t, ctx, h)
	}
	// Back on its previous generation within confirm_timeout + 15 s of
	// its activation (nixdeck reports it after the host has gone back),
	// and not before the confirmation was due.
	if d := took["web01"]; d < confirm || d > confirm+15*time.Second {
		t.Errorf("web01 was reported rolled back %s after its activation began, want confirm_timeout (%s) to confirm_timeout + 15s", d, confirm)
	}
	// The hung activation ends at activation_timeout, not before; its
	// rollback then takes what a switch takes.
	if d := took["canary"]; d < timeout || d > timeout+15*time.Second {
		t.Errorf("canary was reported rolled back %s after its activation began, want activation_timeout (%s) to activation_timeout + 15s", d, timeout)
	}
	if got := run.outcomes["db01"]; got.Outcome != fleet.OutcomeDone || o.state(t, ctx, "db01").Current != next["db01"] {
		t.Errorf("db01: %s", run.outcome("db01"))
	}
	if !strings.Contains(strings.Join(run.logs["db01"], "\n"), "confirmed") {
		t.Errorf("db01 logs:\n%s", strings.Join(run.logs["db01"], "\n"))
	}
}

// TestRolloutAbortOnLab: a first Abort lets the host in flight finish (a
// hung activation, rolled back at its timeout) and starts no other; a
// second stops waiting for a host caught activating, which is reported
// unknown with how to check, and rolls itself back unconfirmed.
func TestRolloutAbortOnLab(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	o, _, before, next := faultyLab(t, ctx)
	quick := func(p *fleet.Plan) {
		p.Canary, p.Policy.Parallel, p.Policy.Soak, p.Policy.MaxFailures = nil, 1, 0, 5
		p.Policy.ConfirmTimeout, p.Policy.ActivationTimeout = 5*time.Second, 10*time.Second
	}
	activating := func(host string, act func(r *fleet.Rollout)) func(r *fleet.Rollout, e fleet.Event) {
		return func(r *fleet.Rollout, e fleet.Event) {
			if ph, ok := e.(fleet.PhaseEvent); ok && ph.Host() == host && ph.Phase == fleet.PhaseActivating {
				act(r)
			}
		}
	}

	t.Run("once: the host in flight finishes, no other starts", func(t *testing.T) {
		run := o.deployWatching(t, ctx, next, quick, activating("canary", (*fleet.Rollout).Abort), "canary", "db01")
		if got := run.outcomes["canary"]; got.Outcome != fleet.OutcomeRolledBack || got.Cause != nix.CauseTimedOut {
			t.Errorf("canary: %s", run.outcome("canary"))
		}
		if got := run.outcome("db01"); got != "skipped: not started: aborted" || len(run.commands["db01"]) != 0 {
			t.Errorf("db01: %s, commands %q", got, run.commands["db01"])
		}
		for _, h := range []string{"canary", "db01"} {
			if s := o.state(t, ctx, h); s.Current != before[h].Current {
				t.Errorf("%s runs %s", h, s.Current)
			}
		}
	})

	t.Run("twice: nixdeck stops waiting, the host rolls itself back", func(t *testing.T) {
		release := o.holdBreakSSH(t, "web01")
		abortTwice := func(r *fleet.Rollout) { r.Abort(); r.Abort() }
		// Once the activation prints, it has started: the second Abort
		// cannot keep it from running.
		var once sync.Once
		printed := func(r *fleet.Rollout, e fleet.Event) {
			if l, ok := e.(fleet.LogEvent); ok && l.Host() == "web01" && l.Source == "activate" {
				once.Do(func() { abortTwice(r) })
			}
		}
		run := o.deployWatching(t, ctx, next, quick, printed, "web01")
		got := run.outcomes["web01"]
		if got.Outcome != fleet.OutcomeUnknown || !strings.HasPrefix(got.Cause, "still activating when nixdeck stopped waiting") ||
			!strings.Contains(got.Cause, "`nixdeck status --on web01` or /run/nixdeck/"+run.id+"/status") {
			t.Errorf("web01: %s", run.outcome("web01"))
		}
		// The lock went at once; the activation goes on, and unconfirmed
		// it rolls back by itself.
		if holder := o.lockHolder(t, ctx, "web01"); holder != "" {
			t.Errorf("web01 still locked by %s", holder)
		}
		release()
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		defer wcancel()
		dir := "/run/nixdeck/" + run.id
		wait := `while ! grep -q '^rolled-back 0' ` + dir + `/status 2>/dev/null; do sleep 0.2; done`
		if _, err := o.lab.Exec(wctx, "web01", []string{"sh", "-c", wait}, nil); err != nil {
			out, _ := o.lab.Exec(ctx, "web01", []string{"sh", "-c", "ls -la " + dir + "; tail -n 20 " + dir + "/*"}, nil)
			t.Fatalf("web01 never rolled back: %v\n%s", err, out)
		}
		if s := o.state(t, ctx, "web01"); s.Current != before["web01"].Current || s.ProfileGeneration != before["web01"].ProfileGeneration {
			t.Errorf("web01 runs %s at generation %d", s.Current, s.ProfileGeneration)
		}
	})
}

// faultyLab is a 3-host lab whose next systems (release b, built) hang
// on canary and lock SSH out on web01; before is each host's state now.
func faultyLab(t *testing.T, ctx context.Context) (o *opsLab, hosts []string, before map[string]*nix.HostState, next map[string]string) {
	o = startOpsLab(t, 3)
	hosts = []string{"canary", "web01", "db01"}
	before = map[string]*nix.HostState{}
	for _, h := range hosts {
		before[h] = o.state(t, ctx, h)
	}
	for h, fault := range map[string]string{"canary": "hang", "web01": "breakssh"} {
		if err := o.lab.Change(h, lab.ChangeOptions{Fault: fault}); err != nil {
			t.Fatal(err)
		}
	}
	return o, hosts, before, o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, hosts...)
}
