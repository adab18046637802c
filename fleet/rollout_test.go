package fleet

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"nixdeck/nix"
)

// Every host goes through the whole pipeline in order, the canary wave
// ends before the next starts, and waves are batches of the rest.
func TestRolloutCanaryThenBatches(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c", "d", "e")
	pol := policy(10, 0, OnFailureHalt)
	pol.Batch = Batch{Count: 2}
	pol.MagicRollback, pol.ConfirmTimeout = true, 1
	r := startRollout(t, f, nil, plan(pol, []string{"c"}, "a", "b", "c", "d", "e"))
	got, ops := outcomes(t, feed(r.Events()))
	want := []string{"wave 1 canary=true c", "healthy 1", "wave 2 canary=false a,b", "healthy 2", "wave 3 canary=false d,e", "healthy 3"}
	if !slices.Equal(ops, want) {
		t.Errorf("operation events %q, want %q", ops, want)
	}
	pipeline := []string{"connect", "state", "lock " + r.ID(), "copy", "activate switch confirmed", "state", "unroot", "unlock " + r.ID()}
	for _, h := range []string{"a", "b", "c", "d", "e"} {
		if s := f.steps(h); !slices.Equal(s, pipeline) {
			t.Errorf("%s: steps %q, want %q", h, s, pipeline)
		}
		o := got[h]
		if o.Outcome != OutcomeDone || o.FromSystem != oldSystem(h) || o.ToSystem != newSystem(h) || o.FromGen != 1 || o.ToGen != 2 {
			t.Errorf("%s: %+v", h, o)
		}
	}
	// Wave by wave: nothing of a later wave before the end of an earlier.
	wave := map[string]int{"c": 1, "a": 2, "b": 2, "d": 3, "e": 3}
	last := 0
	for _, l := range f.log {
		host, _, _ := strings.Cut(l, " ")
		if wave[host] < last {
			t.Fatalf("%q after a step of wave %d:\n%s", l, last, strings.Join(f.log, "\n"))
		}
		last = wave[host]
	}
}

// At most Policy.Parallel hosts are in flight: the first two hold their
// activation, and the others start only as those end.
func TestRolloutBoundsParallelism(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c", "d")
	hold := make(chan struct{})
	for _, h := range f.hosts {
		h.hold = hold
	}
	r := startRollout(t, f, nil, plan(policy(2, 0, OnFailureHalt), nil, "a", "b", "c", "d"))
	events := feed(r.Events())
	<-f.entered
	<-f.entered
	waitBlocked(r, 2)
	if n := len(f.entered); n != 0 {
		t.Errorf("%d more hosts activating while 2 held theirs", n)
	}
	close(hold)
	got, _ := outcomes(t, events)
	for h, o := range got {
		if o.Outcome != OutcomeDone {
			t.Errorf("%s: %s", h, outcomeOf(o))
		}
	}
}

// A failing canary halts the rollout before any other host is touched.
func TestRolloutCanaryFailureHalts(t *testing.T) {
	f := newFakeSteps(t, "canary", "web1", "web2")
	f.hosts["canary"].outcome = nix.OutcomeActivationFailed
	r := startRollout(t, f, nil, plan(policy(10, 5, OnFailureHalt), []string{"canary"}, "canary", "web1", "web2"))
	got, ops := outcomes(t, feed(r.Events()))
	want := []string{"wave 1 canary=true canary", "halted canary canary failed: activate: activation failed (exit 2)"}
	if !slices.Equal(ops, want) {
		t.Errorf("operation events %q, want %q", ops, want)
	}
	if o := got["canary"]; o.Outcome != OutcomeFailed || o.ToGen != 2 {
		t.Errorf("canary: %+v", o)
	}
	for _, h := range []string{"web1", "web2"} {
		if s := f.steps(h); len(s) != 0 {
			t.Errorf("%s was touched: %q", h, s)
		}
		if o := got[h]; outcomeOf(o) != "skipped: not started: the rollout halted (canary canary failed: activate: activation failed (exit 2))" {
			t.Errorf("%s: %s", h, outcomeOf(o))
		}
	}
}

// More failures than max_failures start no new host; one at a time, the
// host after the second failure is never touched.
func TestRolloutFailureBudget(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c", "d", "e")
	f.hosts["b"].copyErr = errors.New("disk full")
	f.hosts["c"].outcome = nix.OutcomeUnitsFailed
	r := startRollout(t, f, nil, plan(policy(1, 1, OnFailureHalt), nil, "a", "b", "c", "d", "e"))
	got, ops := outcomes(t, feed(r.Events()))
	want := []string{"wave 1 canary=false a,b,c,d,e", "halted failure budget spent: 2 hosts failed, max_failures is 1"}
	if !slices.Equal(ops, want) {
		t.Errorf("operation events %q, want %q", ops, want)
	}
	res := map[string]string{}
	for h, o := range got {
		res[h] = outcomeOf(o)
	}
	want2 := map[string]string{
		"a": "done: ",
		"b": "failed: copy: disk full",
		"c": "failed: activate: units failed (exit 4)",
		"d": "skipped: not started: the rollout halted (failure budget spent: 2 hosts failed, max_failures is 1)",
		"e": "skipped: not started: the rollout halted (failure budget spent: 2 hosts failed, max_failures is 1)",
	}
	if fmt.Sprint(res) != fmt.Sprint(want2) {
		t.Errorf("outcomes\n%v\nwant\n%v", res, want2)
	}
	if s := f.steps("b"); !slices.Equal(s, []string{"connect", "state", "lock " + r.ID(), "copy", "unroot", "unlock " + r.ID()}) {
		t.Errorf("b: %q", s)
	}
	if len(f.steps("d")) != 0 {
		t.Errorf("d was touched: %q", f.steps("d"))
	}
}

// Hosts in flight when the budget is spent finish; no other starts.
func TestRolloutBudgetLetsInFlightFinish(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c", "d")
	hold := make(chan struct{})
	f.hosts["b"].hold, f.hosts["c"].hold = hold, hold
	f.hosts["a"].lockErr = errors.New("held by other@desk")
	f.hosts["a"].lockHold = make(chan struct{}) // a fails once b and c activate
	r := startRollout(t, f, nil, plan(policy(3, 0, OnFailureHalt), nil, "a", "b", "c", "d"))
	events := feed(r.Events())
	<-f.entered
	<-f.entered
	<-f.locking
	close(f.hosts["a"].lockHold)
	seen := waitFor(t, events, func(e Event) bool { _, ok := e.(RolloutHalted); return ok })
	close(hold)
	got, ops := outcomes(t, replay(seen, events))
	if len(ops) != 2 || ops[1] != "halted failure budget spent: 1 host failed, max_failures is 0" {
		t.Errorf("operation events %q", ops)
	}
	for h, want := range map[string]Outcome{"a": OutcomeFailed, "b": OutcomeDone, "c": OutcomeDone, "d": OutcomeSkipped} {
		if got[h].Outcome != want {
			t.Errorf("%s: %s, want %s", h, outcomeOf(got[h]), want)
		}
	}
	if s := f.steps("a"); !slices.Equal(s, []string{"connect", "state", "lock " + r.ID()}) {
		t.Errorf("a, refused its lock: %q", s)
	}
}
