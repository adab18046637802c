package fleet

import (
	"errors"
	"slices"
	"testing"

	"nixdeck/nix"
)

// rollback-failed takes the failed host back to its generation under its
// lock; the done host and the one never started stay as they are.
func TestRolloutRollbackFailed(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c")
	f.hosts["b"].outcome = nix.OutcomeUnitsFailed
	r := startRollout(t, f, nil, plan(policy(1, 0, OnFailureRollbackFailed), nil, "a", "b", "c"))
	got, _ := outcomes(t, feed(r.Events()))
	if o := got["b"]; outcomeOf(o) != "rolled back: activate: units failed (exit 4); rolled back to generation 1 (rollback-failed)" || o.FromGen != 1 || o.ToGen != 2 {
		t.Errorf("b: %+v", o)
	}
	back := r.ID() + "-back"
	want := []string{"connect", "state", "lock " + r.ID(), "copy", "activate switch", "state", "unroot", "unlock " + r.ID(),
		"lock " + back, "activate switch generation 1", "state", "unlock " + back}
	if s := f.steps("b"); !slices.Equal(s, want) {
		t.Errorf("b: steps %q\nwant %q", s, want)
	}
	if st := f.hosts["b"].state(); st.Current != oldSystem("b") || st.ProfileGeneration != 1 {
		t.Errorf("b is on %s, generation %d", st.Current, st.ProfileGeneration)
	}
	if got["a"].Outcome != OutcomeDone || f.hosts["a"].current != newSystem("a") || got["c"].Outcome != OutcomeSkipped {
		t.Errorf("a: %s, c: %s", outcomeOf(got["a"]), outcomeOf(got["c"]))
	}
}

// rollback-all takes back every host the rollout changed, the done ones
// too, and only them: a host refused its lock changed nothing. Their
// outcomes come at the end, once final.
func TestRolloutRollbackAll(t *testing.T) {
	f := newFakeSteps(t, "canary", "a", "b", "c", "d")
	f.hosts["b"].lockErr = errors.New("held by other@desk")
	f.hosts["c"].outcome = nix.OutcomeActivationFailed
	pol := policy(1, 1, OnFailureRollbackAll)
	pol.Batch = Batch{Count: 3}
	p := plan(pol, []string{"canary"}, "canary", "a", "b", "c", "d")
	p.Action = nix.Test
	r := startRollout(t, f, nil, p)
	var order []string
	events := make(chan Event, 1000)
	go func() {
		defer close(events)
		for e := range r.Events().All() {
			if o, ok := e.(HostOutcome); ok {
				order = append(order, o.Host())
			}
			events <- e
		}
	}()
	got, _ := outcomes(t, events)
	for h, want := range map[string]string{
		"canary": "rolled back: rolled back to the system it ran (rollback-all)",
		"a":      "rolled back: rolled back to the system it ran (rollback-all)",
		"b":      "failed: lock: held by other@desk",
		"c":      "rolled back: activate: activation failed (exit 2); rolled back to the system it ran (rollback-all)",
		"d":      "skipped: not started: the rollout halted (failure budget spent: 2 hosts failed, max_failures is 1)",
	} {
		if s := outcomeOf(got[h]); s != want {
			t.Errorf("%s: %s\nwant %s", h, s, want)
		}
		if f.hosts[h].current != oldSystem(h) {
			t.Errorf("%s runs %s", h, f.hosts[h].current)
		}
	}
	if want := []string{"b", "canary", "a", "c", "d"}; !slices.Equal(order, want) {
		t.Errorf("outcomes in order %q, want %q", order, want)
	}
	if s := f.steps("a"); !slices.Contains(s, "activate test") {
		t.Errorf("a: %q", s)
	}
}

// A host already running the built system costs one state read: no
// lock, no copy, no activation. A host that cannot be reached does not
// spend the failure budget; the others go on.
func TestRolloutUnchangedAndUnreachable(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c")
	f.hosts["a"].gens = append(f.hosts["a"].gens, newSystem("a"))
	f.hosts["a"].profile, f.hosts["a"].current = 2, newSystem("a")
	f.hosts["b"].unreachable = errRefused
	pol := policy(1, 0, OnFailureHalt)
	pol.Health = []HealthCheck{{Name: "up", Run: "true"}}
	r := startRollout(t, f, nil, plan(pol, nil, "a", "b", "c"))
	got, _ := outcomes(t, feed(r.Events()))
	if s := f.steps("a"); !slices.Equal(s, []string{"connect", "state"}) {
		t.Errorf("unchanged a: steps %q", s)
	}
	if o := got["a"]; o.Outcome != OutcomeUnchanged || o.FromGen != 2 || o.ToGen != 2 || o.FromSystem != newSystem("a") {
		t.Errorf("a: %+v", o)
	}
	if o := got["b"]; outcomeOf(o) != "unreachable: connection refused" {
		t.Errorf("b: %s", outcomeOf(o))
	}
	if o := got["c"]; o.Outcome != OutcomeDone || !slices.Contains(f.steps("c"), "check up") {
		t.Errorf("c: %s, steps %q", outcomeOf(o), f.steps("c"))
	}
}

// A rollback plan takes every host to the generation before its current
// one, or to the one asked, with magic rollback; a host already there is
// unchanged, one without such a generation fails.
func TestRolloutRollbackPlan(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c")
	for _, h := range []string{"a", "b"} {
		f.hosts[h].gens = append(f.hosts[h].gens, newSystem(h))
		f.hosts[h].profile, f.hosts[h].current = 2, newSystem(h)
	}
	p := Plan{Kind: PlanRollback, Nodes: nodes("a", "b", "c"), Policy: policy(10, 0, OnFailureRollbackAll)}
	p.Policy.MagicRollback, p.Policy.ConfirmTimeout = true, 1
	p.Policy.Health = []HealthCheck{{Name: "up", Run: "false"}}
	got, ops := outcomes(t, feed(startRollout(t, f, nil, p).Events()))
	if o := got["a"]; o.Outcome != OutcomeDone || o.FromGen != 2 || o.ToGen != 1 || o.ToSystem != oldSystem("a") || f.hosts["a"].current != oldSystem("a") {
		t.Errorf("a: %+v", o)
	}
	if s := f.steps("b"); !slices.Contains(s, "activate switch generation 1 confirmed") || slices.Contains(s, "check up") {
		t.Errorf("b: steps %q", s)
	}
	if o := got["c"]; outcomeOf(o) != "failed: rollback: no generation before 1 to roll back to" {
		t.Errorf("c: %s", outcomeOf(o))
	}
	if len(ops) != 2 {
		t.Errorf("operation events %q", ops)
	}

	f = newFakeSteps(t, "a")
	p = Plan{Kind: PlanRollback, Nodes: nodes("a"), RollbackTo: 1, Policy: policy(1, 0, "")}
	got, _ = outcomes(t, feed(startRollout(t, f, nil, p).Events()))
	if got["a"].Outcome != OutcomeUnchanged || !slices.Equal(f.steps("a"), []string{"connect", "state"}) {
		t.Errorf("already on generation 1: %s, steps %q", outcomeOf(got["a"]), f.steps("a"))
	}
}

// A plan that cannot run touches no host: every host is skipped and the
// operation ends with the reason.
func TestRolloutRefusesBadPlans(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(p *Plan)
		want string
	}{
		{"no system", func(p *Plan) { delete(p.Systems, "b") }, "host b: no built system to deploy"},
		{"bad action", func(p *Plan) { p.Action = "reboot" }, `action "reboot": want switch, boot, test or dry-activate`},
		{"other profile", func(p *Plan) { p.Profile = "app" }, `profile "app": only the system profile can be deployed`},
		{"foreign canary", func(p *Plan) { p.Canary = nodes("z") }, "canary z is not among the selected hosts"},
		{"bad on_failure", func(p *Plan) { p.Policy.OnFailure = "pray" }, `on_failure "pray": want halt, rollback-failed or rollback-all`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSteps(t, "a", "b")
			p := plan(policy(1, 0, ""), nil, "a", "b")
			tc.edit(&p)
			got, ops := outcomes(t, feed(startRollout(t, f, nil, p).Events()))
			if !slices.Equal(ops, []string{"error " + tc.want}) || len(f.log) != 0 {
				t.Errorf("events %q, steps %q", ops, f.log)
			}
			if got["a"].Outcome != OutcomeSkipped || got["b"].Outcome != OutcomeSkipped {
				t.Errorf("outcomes %v", got)
			}
		})
	}
}
