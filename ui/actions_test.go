package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// withDiffs gives the fake engine a diff of each web host: two upgrades,
// a downgrade, one package added, and a kernel that needs a reboot on
// web02.
func withDiffs(e *fakeEngine, c *Config) {
	upToDate(e, c)
	for _, h := range []string{"web01", "web02", "canary1", "db01"} {
		d := &fleet.HostDiff{Host: h, Current: sys(h, "r2"), New: sys(h, "r3"), Diff: &nix.ClosureDiff{
			Versions: []nix.PackageChange{{Name: "curl", State: "U"}, {Name: "git", State: "U"}, {Name: "htop", State: "D"}},
			Added:    []nix.PackageChange{{Name: "jq", State: "A"}}, OldSize: 1000, NewSize: 1000 + 3*1024}}
		if h == "web02" {
			d.RebootFor, d.KernelChanged = []string{"kernel"}, true
		}
		e.diffs[h] = d
	}
}

// s on two selected hosts builds them, diffs them against the build,
// and asks, naming the action, the hosts and each one's changes; only y
// starts the rollout, of exactly those hosts, with their systems.
func TestSwitchBuildsDiffsAsksThenRollsOut(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.resize(160, 48)
	d.press("j", "space", "end", "space", "s")
	calls := d.eng.called()
	if got := calls[len(calls)-2:]; !slices.Equal(got, []string{"Build to deploy web01,web02", "Diff(built) web01,web02"}) {
		t.Fatalf("s called %q, want the build then the diff of the built systems", got)
	}
	d.shows("Switch 2 hosts?", "switch on 2 hosts; one wave", "web01", "web02", "+3.0KiB", "yes: kernel")
	if l := d.line("│ web01"); !strings.Contains(l, " 2 ") || !strings.Contains(l, " 1 ") {
		t.Errorf("web01's summary %q, want 2 up, 1 down, 1 added", l)
	}
	d.press("j", "x", "space") // a stray key neither proceeds nor cancels
	d.shows("Switch 2 hosts?")
	if d.eng.ro != nil {
		t.Fatal("a rollout started without y")
	}
	d.press("y")
	if len(d.eng.plans) != 1 {
		t.Fatalf("%d rollouts started", len(d.eng.plans))
	}
	p := d.eng.plans[0]
	if p.Kind != fleet.PlanDeploy || p.Action != nix.Switch || nodeNames(p.Nodes) != "web01,web02" || len(p.Canary) != 0 ||
		p.Systems["web01"] != sys("web01", "r3") || p.Owner != "op@desk" || p.Selector != "web01,web02" {
		t.Errorf("the plan %+v", p)
	}
	d.shows("rollout", "Switch running")
}

// n (or esc) at the question cancels: no rollout, nothing touched, the
// build's gc roots go.
func TestConfirmNoCancels(t *testing.T) {
	for _, k := range []string{"n", "esc"} {
		d := start(t, testFleet(), withDiffs)
		d.press("j", "s")
		d.shows("Switch 1 host?")
		d.press(k)
		d.hides("Switch 1 host?")
		d.shows("cancelled; no host was touched")
		if d.eng.ro != nil {
			t.Errorf("%s: a rollout started", k)
		}
		if d.m.prep != nil {
			t.Errorf("%s: the action is still being prepared", k)
		}
	}
}

// b and t are the boot and test actions; c canaries the fleet's canary
// among the selection, or the first selected host when it has none.
func TestActionKinds(t *testing.T) {
	tests := []struct {
		keys   []string
		action nix.Action
		canary string
		title  string
	}{
		{[]string{"j", "b"}, nix.Boot, "", "Boot 1 host?"},
		{[]string{"j", "t"}, nix.Test, "", "Test 1 host?"},
		{[]string{"a", "c"}, "", "canary1", "Canary rollout to 4 hosts?"},
		{[]string{"j", "space", "j", "space", "c"}, "", "web01", "Canary rollout to 2 hosts?"},
	}
	for _, tt := range tests {
		d := start(t, testFleet(), withDiffs)
		d.press(tt.keys...)
		d.shows(tt.title)
		d.press("y")
		p := d.eng.plans[0]
		if p.Action != tt.action || nodeNames(p.Canary) != tt.canary {
			t.Errorf("%v: action %q canary %q, want %q %q", tt.keys, p.Action, nodeNames(p.Canary), tt.action, tt.canary)
		}
	}
}

// r rolls the targets back to their previous generation: the diff is
// read from each host (no build), the question says so, and the plan is
// a rollback with RollbackTo 0.
func TestRollbackKey(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.press("j", "space", "j", "space", "r")
	if c := d.eng.called(); c[len(c)-1] != "DiffRollback(0) web01,db01" || slices.Contains(c, "Build to deploy web01,db01") {
		t.Fatalf("r called %q", c)
	}
	d.shows("Roll back 2 hosts to the previous generation?", "rollback (switch) on 2 hosts")
	d.press("y")
	p := d.eng.plans[0]
	if p.Kind != fleet.PlanRollback || p.RollbackTo != 0 || p.Action != nix.Switch || p.Systems != nil || nodeNames(p.Nodes) != "web01,db01" {
		t.Errorf("the plan %+v", p)
	}
}

// A host whose build failed stops the action before anything is asked:
// an error pane names it and its cause; no diff, no rollout.
func TestBuildFailureTouchesNothing(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.eng.errs["web01"] = &fleet.HostError{Host: "web01", Step: "evaluate", Err: errors.New("undefined variable 'foo'")}
	d.press("j", "space", "j", "space", "s")
	d.shows("Build failed; no host was touched", "web01: evaluate: undefined variable 'foo'")
	if c := d.eng.called(); strings.HasPrefix(c[len(c)-1], "Diff") {
		t.Errorf("diffed after a failed build: %q", c)
	}
	d.press("esc")
	d.hides("Build failed")
	if d.m.prep != nil || d.eng.ro != nil {
		t.Error("the action goes on")
	}
}

// esc while the action builds cancels it: the build is stopped and
// nothing is asked.
func TestEscCancelsWhileBuilding(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	building := d.h.stream()
	d.eng.next = []*stream{building}
	d.press("s")
	d.shows("Switch: building 1 host (esc cancels)")
	d.press("esc")
	d.shows("cancelled; no host was touched")
	building.push(true, fleet.OpFinished{EventBase: base("build", "")})
	d.settle()
	if d.m.dialog != nil || d.m.prep != nil {
		t.Error("the cancelled action went on to a question")
	}
}

// Only one change at a time: an action while another is prepared or a
// rollout runs is refused on the status line.
func TestOneActionAtATime(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.press("s", "y")
	d.press("esc", "b")
	d.shows("error: a rollout is running; wait for it, or abort it with x")
	if len(d.eng.plans) != 1 {
		t.Errorf("%d rollouts", len(d.eng.plans))
	}
}

// The rollout's events show in the host rows (deploying, then the
// outcome and when), in the rollout pane and in the hosts' logs; when
// it ends, its hosts are read again.
func TestRolloutEventsReachRowsPaneAndLogs(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.resize(160, 48)
	d.press("j", "s", "y")
	ro := d.eng.ro
	op := "deploy-test"
	ro.s.push(false,
		fleet.OpStarted{EventBase: base(op, ""), Kind: "deploy", Hosts: []string{"web01"}},
		fleet.RolloutStarted{EventBase: base(op, ""), Kind: "deploy", Action: "switch", Waves: [][]string{{"web01"}}},
		fleet.PhaseEvent{EventBase: base(op, "web01"), Phase: fleet.PhaseCopying},
		fleet.LogEvent{EventBase: base(op, "web01"), Source: "copy", Line: "copying path '/nix/store/abc-curl'"})
	d.settle()
	d.tick()
	d.shows("[copy] copying path '/nix/store/abc-curl'", "copying")
	d.press("esc")
	if l := d.line("web01"); !strings.Contains(l, "deploying: copying") {
		t.Errorf("web01's row during the copy: %q", l)
	}
	ro.s.push(true,
		fleet.HostOutcome{EventBase: base(op, "web01"), Outcome: fleet.OutcomeRolledBack, Cause: "health check http failed"},
		fleet.DoneEvent{EventBase: base(op, "web01")},
		fleet.OpFinished{EventBase: base(op, "")})
	d.settle()
	if l := d.line("web01"); !strings.Contains(l, "rolled back") || !strings.Contains(l, "rolled back just now") {
		t.Errorf("web01's row after it rolled back: %q", l)
	}
	if c := d.eng.called(); c[len(c)-1] != "ReadStates web01" {
		t.Errorf("after the rollout: %q, want web01 read again", c[len(c)-1])
	}
	d.shows("Switch finished: 1 rolled back")
	d.press("l")
	d.shows("outcome: rolled back: health check http failed")
}

// p pauses and resumes, x aborts (twice: stop waiting), from any screen
// while a rollout runs; without one they do nothing.
func TestPauseAndAbort(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.press("p", "x")
	d.press("j", "s", "y")
	ro := d.eng.ro
	ro.s.push(false, fleet.OpStarted{EventBase: base("deploy-test", ""), Kind: "deploy", Hosts: []string{"web01"}})
	d.settle()
	d.press("esc", "p")
	d.shows("pausing: no new host starts")
	ro.s.push(false, fleet.RolloutPaused{EventBase: base("deploy-test", ""), Paused: true})
	d.settle()
	d.press("p")
	d.shows("resuming")
	d.press("x")
	d.shows("aborting: no new host starts")
	d.press("x")
	d.shows("no longer waiting for the hosts in flight")
	if got := ro.controls(); got != "pause 1, resume 1, abort 2" {
		t.Errorf("controls: %s", got)
	}
}

// q quits at once with nothing running; while a rollout runs it asks,
// n keeps watching, and y aborts (twice, as Ctrl-C then Ctrl-C) and
// quits, naming the hosts left in flight.
func TestQuit(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.press("q")
	if !d.quit || d.m.Report() != "" {
		t.Fatalf("q with nothing running: quit %v, report %q", d.quit, d.m.Report())
	}

	d = start(t, testFleet(), withDiffs)
	d.press("a", "s", "y")
	ro := d.eng.ro
	ro.s.push(false, fleet.PhaseEvent{EventBase: base("deploy-test", "web01"), Phase: fleet.PhaseActivating},
		fleet.PhaseEvent{EventBase: base("deploy-test", "db01"), Phase: fleet.PhaseCopying})
	d.settle()
	d.press("q")
	d.shows("Quit while a rollout runs?", "In flight now: db01 (copying), web01 (activating)")
	d.press("n")
	if d.quit || d.m.dialog != nil {
		t.Fatal("n did not keep the console")
	}
	d.press("ctrl+c", "y")
	if !d.quit {
		t.Fatal("y did not quit")
	}
	if got := ro.controls(); got != "pause 0, resume 0, abort 2" {
		t.Errorf("controls: %s", got)
	}
	if r := d.m.Report(); !strings.Contains(r, "left in flight: db01 (copying), web01 (activating)") {
		t.Errorf("report %q", r)
	}
}

// A signal sent to the process ends the console as a confirmed quit.
func TestSignalQuits(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.press("j", "s", "y")
	d.eng.ro.s.push(false, fleet.PhaseEvent{EventBase: base("deploy-test", "web01"), Phase: fleet.PhaseHealth})
	d.settle()
	d.send(SignalMsg{})
	if !d.quit || !strings.Contains(d.m.Report(), "web01 (health checks)") || d.eng.ro.controls() != "pause 0, resume 0, abort 2" {
		t.Errorf("quit %v, report %q, %s", d.quit, d.m.Report(), d.eng.ro.controls())
	}
	d = start(t, testFleet(), withDiffs)
	d.send(SignalMsg{})
	if !d.quit {
		t.Error("a signal with nothing running does not quit")
	}
}

// The status line says what happened and clears itself when its time
// is up (unless a newer message replaced it).
func TestStatusLineExpires(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.press("s", "n")
	d.shows("cancelled")
	var expire []statusExpiredMsg
	for _, m := range d.timers {
		if e, ok := m.(statusExpiredMsg); ok {
			expire = append(expire, e)
		}
	}
	if len(expire) == 0 {
		t.Fatal("no expiry asked for")
	}
	d.send(expire[len(expire)-1])
	d.hides("cancelled")
}

// The footer lists the actions only while one may start, and esc to
// cancel while an action builds.
func TestFooterSaysWhatApplies(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.resize(300, 30)
	footer := func() string { lines := strings.Split(d.frame(), "\n"); return lines[len(lines)-1] }
	if f := footer(); !strings.Contains(f, "s switch") || strings.Contains(f, "p pause") {
		t.Errorf("idle footer: %q", f)
	}
	building := d.h.stream()
	d.eng.next = []*stream{building}
	d.press("s")
	if f := footer(); !strings.Contains(f, "esc cancel switch") || strings.Contains(f, "s switch") {
		t.Errorf("footer while building: %q", f)
	}
	d.press("esc")
	d.press("s", "y", "esc")
	if f := footer(); strings.Contains(f, "s switch") || strings.Contains(f, "b boot") || !strings.Contains(f, "p pause/resume") || !strings.Contains(f, "x abort") {
		t.Errorf("footer while a rollout runs: %q", f)
	}
}

// While the action's build pushes to the cache, the title says how far
// the push has got; once it ends, the title is the action's again.
func TestBuildShowsPushProgress(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.resize(160, 48)
	building := d.h.stream()
	d.eng.next = []*stream{building}
	d.press("j", "s")
	push := func(p fleet.CachePushEvent) fleet.Event {
		p.EventBase, p.Cache = base("build", ""), "file:///srv/cache"
		return p
	}
	building.push(false, fleet.OpStarted{EventBase: base("build", ""), Kind: "build"},
		fleet.BuiltEvent{EventBase: base("build", "web01"), System: sys("web01", "r3")},
		push(fleet.CachePushEvent{PathsTotal: 12}), push(fleet.CachePushEvent{Paths: 5, PathsTotal: 12, Bytes: 5 << 20}))
	d.settle()
	d.tick()
	d.shows("Switch: pushing to file:///srv/cache: 5/12 paths, 5.0 MiB (esc cancels)")
	building.push(false, push(fleet.CachePushEvent{Paths: 9, PathsTotal: 12, Bytes: 7 << 20}))
	d.settle()
	d.tick()
	d.shows("Switch: pushing to file:///srv/cache: 9/12 paths, 7.0 MiB")
	building.push(false, push(fleet.CachePushEvent{Paths: 12, PathsTotal: 12, Bytes: 8 << 20, Done: true}))
	d.settle()
	d.tick()
	d.hides("pushing to")
	d.shows("Switch: building 1 host")
}
