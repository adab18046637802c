package fleet_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/nix"
)

// TestRolloutOnLab switches a 4-host lab to release b, canary first, then
// redeploys it unchanged, then halts on a canary whose activation fails.
func TestRolloutOnLab(t *testing.T) {
	o := startOpsLab(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	hosts := []string{"canary", "web01", "db01", "web02"}
	fast := func(p *fleet.Plan) { p.Policy.Soak = time.Second }

	b := o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, hosts...)
	t.Run("switch to release b, canary first", func(t *testing.T) {
		run := o.deploy(t, ctx, b, fast, hosts...)
		if want := "wave 1 canary|healthy 1|wave 2 web01,db01|healthy 2|wave 3 web02|healthy 3"; strings.Join(run.ops, "|") != want {
			t.Errorf("operation events %q, want %q", run.ops, want)
		}
		for _, h := range hosts {
			got := run.outcomes[h]
			if got.Outcome != fleet.OutcomeDone || got.ToSystem != b[h] || got.FromGen != 1 || got.ToGen != 2 {
				t.Errorf("%s: %+v", h, got)
			}
			if s := o.state(t, ctx, h); s.Current != b[h] || s.Profile != b[h] {
				t.Errorf("%s runs %s, profile %s; want %s", h, s.Current, s.Profile, b[h])
			}
			o.leftClean(t, ctx, h)
		}
		if !strings.Contains(strings.Join(run.logs["canary"], "\n"), "health: check system passed") {
			t.Errorf("canary logs:\n%s", strings.Join(run.logs["canary"], "\n"))
		}
	})

	t.Run("an unchanged redeploy reads each host's state and does nothing else", func(t *testing.T) {
		run := o.deploy(t, ctx, b, fast, hosts...)
		for _, h := range hosts {
			if run.outcomes[h].Outcome != fleet.OutcomeUnchanged || len(run.commands[h]) != 1 {
				t.Errorf("%s: %s, commands %q", h, run.outcome(h), run.commands[h])
			}
		}
	})

	t.Run("a canary that fails to activate halts the rollout", func(t *testing.T) {
		if err := o.lab.Change("", lab.ChangeOptions{Bump: true}); err != nil {
			t.Fatal(err)
		}
		next := o.change(t, ctx, "canary", lab.ChangeOptions{Fault: "fail"}, hosts...)
		run := o.deploy(t, ctx, next, fast, hosts...)
		if len(run.ops) != 2 || !strings.HasPrefix(run.ops[1], "halted canary canary failed: activate: activation failed (exit 2)") {
			t.Errorf("operation events %q", run.ops)
		}
		if got := run.outcomes["canary"]; got.Outcome != fleet.OutcomeFailed {
			t.Errorf("canary: %s", run.outcome("canary"))
		}
		for _, h := range hosts[1:] {
			if run.outcomes[h].Outcome != fleet.OutcomeSkipped || len(run.commands[h]) != 0 {
				t.Errorf("%s: %s, commands %q", h, run.outcome(h), run.commands[h])
			}
			if s := o.state(t, ctx, h); s.Current != b[h] {
				t.Errorf("%s changed: runs %s", h, s.Current)
			}
		}
		o.leftClean(t, ctx, "canary")
	})

	t.Run("a canary that turns unhealthy during the soak halts the rollout", func(t *testing.T) {
		if err := o.lab.Change("canary", lab.ChangeOptions{Fault: "degraded"}); err != nil {
			t.Fatal(err)
		}
		next := o.change(t, ctx, "", lab.ChangeOptions{Bump: true}, hosts...)
		run := o.degradeInSoak(t, ctx, next, nil, hosts...)
		if len(run.ops) != 2 || !strings.HasPrefix(run.ops[1], "halted canary canary failed: health: unhealthy after the 5s soak: check system: exit status 1: degraded") {
			t.Errorf("operation events %q", run.ops)
		}
		for _, h := range hosts[1:] {
			if run.outcomes[h].Outcome != fleet.OutcomeSkipped || len(run.commands[h]) != 0 {
				t.Errorf("%s: %s, commands %q", h, run.outcome(h), run.commands[h])
			}
		}
		o.leftClean(t, ctx, "canary")
	})

	t.Run("an HTTP health check fails a host whose endpoint answers 503", func(t *testing.T) {
		// Only the http check: the failure can come from nothing else.
		var checks []fleet.HealthCheck
		for _, c := range o.f.Deploy.Health {
			if c.Name == "http" {
				checks = append(checks, c)
			}
		}
		if len(checks) != 1 {
			t.Fatalf("the lab fleet's checks %+v have no http one", o.f.Deploy.Health)
		}
		next := o.change(t, ctx, "", lab.ChangeOptions{Bump: true}, hosts...)
		run := o.degradeInSoak(t, ctx, next, func(p *fleet.Plan) { p.Policy.Health = checks }, hosts...)
		url := fmt.Sprintf("GET http://127.0.0.1:%s/healthz: status 503, want 200", o.node(t, "canary").Vars["health_port"])
		got := run.outcomes["canary"]
		if got.Outcome != fleet.OutcomeFailed || got.Cause != "health: unhealthy after the 5s soak: check http: "+url {
			t.Errorf("canary: %s", run.outcome("canary"))
		}
		if !strings.Contains(strings.Join(run.logs["canary"], "\n"), "health: check http passed") {
			t.Errorf("the canary was not healthy before its soak:\n%s", strings.Join(run.logs["canary"], "\n"))
		}
		for _, h := range hosts[1:] {
			if run.outcomes[h].Outcome != fleet.OutcomeSkipped || len(run.commands[h]) != 0 {
				t.Errorf("%s: %s, commands %q", h, run.outcome(h), run.commands[h])
			}
		}
	})
}

// degradeInSoak deploys next to hosts with the lab's policy (edited by
// edit), the canary's next system having the degraded fault: the canary
// passes its checks, then turns degraded during its soak, which ends only
// once it has.
func (o *opsLab) degradeInSoak(t *testing.T, ctx context.Context, next map[string]string, edit func(p *fleet.Plan), hosts ...string) rolloutRun {
	t.Helper()
	degrade, err := o.lab.HoldDegraded("canary")
	if err != nil {
		t.Fatal(err)
	}
	endSoak := o.soakGate(t, o.f.Deploy.Soak)
	watch := func(r *fleet.Rollout, e fleet.Event) {
		if ph, ok := e.(fleet.PhaseEvent); ok && ph.Host() == "canary" && ph.Phase == fleet.PhaseSoaking {
			if err := degrade(ctx); err != nil {
				t.Error(err)
			}
			endSoak()
		}
	}
	return o.deployWatching(t, ctx, next, edit, watch, hosts...)
}

// TestRolloutDeployUserOnLab: a non-root login with passwordless sudo
// deploys; a sudo that wants a password fails the host with that cause,
// before anything changed.
func TestRolloutDeployUserOnLab(t *testing.T) {
	o := startOpsLab(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := o.lab.SetUser("", lab.DeployUser); err != nil {
		t.Fatal(err)
	}
	f, err := fleet.Load(o.lab.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	o.f, o.eng = f, fleet.Open(f, fleet.Options{Connector: o.conn})
	t.Cleanup(func() { o.eng.Close() })
	if err := o.lab.SetSudoPassword("web01", true); err != nil {
		t.Fatal(err)
	}
	before := o.state(t, ctx, "web01")
	next := o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, "canary", "web01")
	run := o.deploy(t, ctx, next, func(p *fleet.Plan) { p.Canary, p.Policy.Soak, p.Policy.MaxFailures = nil, 0, 1 }, "canary", "web01")
	if got := run.outcomes["canary"]; got.Outcome != fleet.OutcomeDone || o.state(t, ctx, "canary").Current != next["canary"] {
		t.Errorf("canary as %s: %s", lab.DeployUser, run.outcome("canary"))
	}
	if got := run.outcome("web01"); !strings.HasPrefix(got, "failed: lock: ") || !strings.Contains(got, "sudo needs a password") {
		t.Errorf("web01: %s", got)
	}
	if s := o.state(t, ctx, "web01"); s.Current != before.Current {
		t.Errorf("web01 changed: runs %s", s.Current)
	}
}

// TestRolloutRecoveryOnLab: a host locked by another operator is refused
// naming the owner, a host whose units fail counts as failed and is
// brought back by rollback-failed, rollback plans take hosts to the
// previous or a chosen generation, and rollback-all takes back every host
// a halted rollout changed.
func TestRolloutRecoveryOnLab(t *testing.T) {
	o := startOpsLab(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	hosts := []string{"canary", "web01", "db01"}
	noCanary := func(p *fleet.Plan) { p.Canary, p.Policy.Soak = nil, 0 }
	gen1 := map[string]string{}
	for _, h := range hosts {
		gen1[h] = o.state(t, ctx, h).Current
	}
	b := o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, hosts...)

	t.Run("a host locked by another operator is refused, naming the owner", func(t *testing.T) {
		r, err := o.conn.Runner(ctx, o.node(t, "web01"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nix.AcquireLock(ctx, r, nix.LockRequest{OpID: "deploy-other", Owner: "alice@desk", PID: 42}); err != nil {
			t.Fatal(err)
		}
		run := o.deploy(t, ctx, b, func(p *fleet.Plan) { noCanary(p); p.Policy.MaxFailures = 5 }, hosts...)
		if got := run.outcome("web01"); !strings.HasPrefix(got, "failed: lock: ") || !strings.Contains(got, "held by alice@desk pid=42 op=deploy-other") {
			t.Errorf("web01: %s", got)
		}
		if s, holder := o.state(t, ctx, "web01"), o.lockHolder(t, ctx, "web01"); s.Current != gen1["web01"] || !strings.HasPrefix(holder, "alice@desk pid=42 op=deploy-other") {
			t.Errorf("web01 after the refusal: running %s, lock held by %q", s.Current, holder)
		}
		for _, h := range []string{"canary", "db01"} {
			if run.outcomes[h].Outcome != fleet.OutcomeDone {
				t.Errorf("%s: %s", h, run.outcome(h))
			}
		}
		if err := nix.ReleaseLock(ctx, r, "", "deploy-other"); err != nil {
			t.Fatal(err)
		}
		if run := o.deploy(t, ctx, b, noCanary, "web01"); run.outcomes["web01"].Outcome != fleet.OutcomeDone {
			t.Errorf("web01 once unlocked: %s", run.outcome("web01"))
		}
	})

	t.Run("rollback-failed brings back a host whose units failed", func(t *testing.T) {
		units := o.change(t, ctx, "web01", lab.ChangeOptions{Fault: "units"}, "web01")
		run := o.deploy(t, ctx, units, func(p *fleet.Plan) { noCanary(p); p.Policy.OnFailure = fleet.OnFailureRollbackFailed }, "web01")
		got := run.outcomes["web01"]
		if got.Outcome != fleet.OutcomeRolledBack || !strings.Contains(got.Cause, "units failed (exit 4)") || got.FromGen != 2 || got.ToGen != 3 {
			t.Errorf("web01: %+v", got)
		}
		// Failed units count as a failure: max_failures 0 is spent.
		if want := "wave 1 web01|halted failure budget spent: 1 host failed, max_failures is 0"; strings.Join(run.ops, "|") != want {
			t.Errorf("operation events %q, want %q", run.ops, want)
		}
		if s := o.state(t, ctx, "web01"); s.Current != b["web01"] || s.ProfileGeneration != 2 {
			t.Errorf("web01 runs %s at generation %d, want %s at 2", s.Current, s.ProfileGeneration, b["web01"])
		}
		o.leftClean(t, ctx, "web01")
	})

	t.Run("rollback to the previous generation, and to a chosen one", func(t *testing.T) {
		run := o.rollout(t, ctx, fleet.Plan{Kind: fleet.PlanRollback, Nodes: []*fleet.Node{o.node(t, "db01"), o.node(t, "canary")}, Policy: o.f.Deploy}, nil)
		for _, h := range []string{"db01", "canary"} {
			if got := run.outcomes[h]; got.Outcome != fleet.OutcomeDone || got.FromGen != 2 || got.ToGen != 1 {
				t.Errorf("%s: %+v", h, got)
			}
			if s := o.state(t, ctx, h); s.Current != gen1[h] || s.ProfileGeneration != 1 {
				t.Errorf("%s runs %s at generation %d", h, s.Current, s.ProfileGeneration)
			}
			o.leftClean(t, ctx, h)
		}
		run = o.rollout(t, ctx, fleet.Plan{Kind: fleet.PlanRollback, Nodes: []*fleet.Node{o.node(t, "db01")}, RollbackTo: 2, Policy: o.f.Deploy}, nil)
		if got := run.outcomes["db01"]; got.Outcome != fleet.OutcomeDone || got.ToGen != 2 || o.state(t, ctx, "db01").Current != b["db01"] {
			t.Errorf("db01 to generation 2: %+v", got)
		}
	})

	t.Run("rollback-all brings back every host the rollout changed", func(t *testing.T) {
		before := map[string]*nix.HostState{}
		for _, h := range hosts {
			before[h] = o.state(t, ctx, h)
		}
		for h, fault := range map[string]string{"web01": "none", "db01": "units"} {
			if err := o.lab.Change(h, lab.ChangeOptions{Fault: fault}); err != nil {
				t.Fatal(err)
			}
		}
		// The canary passes; then web01 and db01 go in one wave, db01's
		// units fail. web01 starts before db01, so it has changed by the
		// time the budget is spent.
		next := o.change(t, ctx, "", lab.ChangeOptions{Bump: true}, hosts...)
		run := o.deploy(t, ctx, next, func(p *fleet.Plan) {
			p.Policy.Soak, p.Policy.Batch, p.Policy.OnFailure = 0, fleet.Batch{}, fleet.OnFailureRollbackAll
		}, hosts...)
		if want := "wave 1 canary|healthy 1|wave 2 web01,db01|halted failure budget spent: 1 host failed, max_failures is 0"; strings.Join(run.ops, "|") != want {
			t.Errorf("operation events %q, want %q", run.ops, want)
		}
		for _, h := range hosts {
			got := run.outcomes[h]
			if got.Outcome != fleet.OutcomeRolledBack || !strings.Contains(got.Cause, fmt.Sprintf("rolled back to generation %d (rollback-all)", before[h].ProfileGeneration)) {
				t.Errorf("%s: %s", h, run.outcome(h))
			}
			if s := o.state(t, ctx, h); s.Current != before[h].Current || s.ProfileGeneration != before[h].ProfileGeneration {
				t.Errorf("%s runs %s at generation %d, want %s at %d", h, s.Current, s.ProfileGeneration, before[h].Current, before[h].ProfileGeneration)
			}
			o.leftClean(t, ctx, h)
		}
		if !strings.Contains(run.outcome("db01"), "units failed (exit 4)") {
			t.Errorf("db01: %s", run.outcome("db01"))
		}
	})
}
