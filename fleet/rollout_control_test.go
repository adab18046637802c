package fleet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Pause lets the host in flight finish and starts no other until Resume.
func TestRolloutPauseResume(t *testing.T) {
	f := newFakeSteps(t, "a", "b")
	hold := make(chan struct{})
	f.hosts["a"].hold = hold
	r := startRollout(t, f, nil, plan(policy(1, 0, OnFailureHalt), nil, "a", "b"))
	events := feed(r.Events())
	<-f.entered
	r.Pause()
	r.Pause() // changes nothing, says nothing
	seen := waitFor(t, events, func(e Event) bool { _, ok := e.(RolloutPaused); return ok })
	close(hold)
	waitBlocked(r, 0)
	if s := f.steps("b"); len(s) != 0 {
		t.Fatalf("b started while paused: %q", s)
	}
	r.Resume()
	got, ops := outcomes(t, replay(seen, events))
	if want := []string{"wave 1 canary=false a,b", "paused true", "paused false", "healthy 1"}; !slices.Equal(ops, want) {
		t.Errorf("operation events %q, want %q", ops, want)
	}
	if got["a"].Outcome != OutcomeDone || got["b"].Outcome != OutcomeDone {
		t.Errorf("outcomes %v", got)
	}
}

// A first Abort lets the host in flight finish and skips the others,
// even while paused; on_failure does not run after an Abort.
func TestRolloutAbortOnce(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c")
	hold := make(chan struct{})
	f.hosts["a"].hold = hold
	r := startRollout(t, f, nil, plan(policy(1, 0, OnFailureRollbackAll), nil, "a", "b", "c"))
	events := feed(r.Events())
	<-f.entered
	r.Pause()
	r.Abort()
	r.Resume() // after an Abort: nothing to resume
	seen := waitFor(t, events, func(e Event) bool { _, ok := e.(AbortRequested); return ok })
	close(hold)
	got, ops := outcomes(t, replay(seen, events))
	if want := []string{"wave 1 canary=false a,b,c", "paused true", "abort second=false"}; !slices.Equal(ops, want) {
		t.Errorf("operation events %q, want %q", ops, want)
	}
	if o := got["a"]; o.Outcome != OutcomeDone || f.hosts["a"].current != newSystem("a") {
		t.Errorf("a: %s, runs %s", outcomeOf(o), f.hosts["a"].current)
	}
	for _, h := range []string{"b", "c"} {
		if o := outcomeOf(got[h]); o != "skipped: not started: aborted" || len(f.steps(h)) != 0 {
			t.Errorf("%s: %s, steps %q", h, o, f.steps(h))
		}
	}
}

// A second Abort stops waiting: a host caught activating is unknown,
// with how to check on it, and its lock is still released; a host caught
// copying was not changed and is skipped.
func TestRolloutAbortTwice(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c")
	f.hosts["a"].hold = make(chan struct{}) // never released
	f.hosts["b"].lockHold = make(chan struct{})
	f.hosts["b"].lockErr = context.Canceled // as a lock command killed by the cancellation would
	r := startRollout(t, f, nil, plan(policy(2, 0, OnFailureHalt), nil, "a", "b", "c"))
	events := feed(r.Events())
	<-f.entered
	<-f.locking
	r.Abort()
	r.Abort()
	r.Abort() // a third changes nothing
	close(f.hosts["b"].lockHold)
	got, ops := outcomes(t, events)
	if want := []string{"wave 1 canary=false a,b,c", "abort second=false", "abort second=true"}; !slices.Equal(ops, want) {
		t.Errorf("operation events %q, want %q", ops, want)
	}
	a := got["a"]
	if a.Outcome != OutcomeUnknown || !strings.HasPrefix(a.Cause, "still activating when nixdeck stopped waiting") ||
		!strings.Contains(a.Cause, "`nixdeck status --on a` or /run/nixdeck/"+r.ID()+"/status") {
		t.Errorf("a: %s", outcomeOf(a))
	}
	if s := f.steps("a"); s[len(s)-1] != "unlock "+r.ID() {
		t.Errorf("a: steps %q, want the lock released last", s)
	}
	if o := outcomeOf(got["b"]); o != "skipped: interrupted during lock; unchanged (generation 1)" {
		t.Errorf("b: %s", o)
	}
	if got["c"].Outcome != OutcomeSkipped {
		t.Errorf("c: %s", outcomeOf(got["c"]))
	}
}

// Cancelling the rollout's context is a second Abort: the hosts are
// told to stop, and their DoneEvents say interrupted.
func TestRolloutContextCancel(t *testing.T) {
	f := newFakeSteps(t, "a", "b")
	f.hosts["a"].hold = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	r := engine(t, fakeConnector{}, 1).rollout(ctx, plan(policy(1, 0, OnFailureHalt), nil, "a", "b"), f, newFakeClock(-1).after)
	<-f.entered
	cancel()
	var interrupted []string
	for e := range r.Events().All() {
		if d, ok := e.(DoneEvent); ok && d.Interrupted() {
			interrupted = append(interrupted, d.Host())
		}
		if d, ok := e.(DoneEvent); ok && !errors.Is(d.Err, ErrInterrupted) {
			t.Errorf("%s: %v", d.Host(), d.Err)
		}
	}
	if !slices.Equal(interrupted, []string{"a", "b"}) {
		t.Errorf("interrupted %q", interrupted)
	}
}

// Closing the Engine ends a rollout as a second Abort would, and Close
// returns once it has; the host caught activating is still unlocked.
func TestRolloutEngineClose(t *testing.T) {
	f := newFakeSteps(t, "a", "b")
	f.hosts["a"].hold = make(chan struct{})
	e := Open(&Fleet{}, Options{Connector: fakeConnector{}})
	r := e.rollout(context.Background(), plan(policy(1, 0, OnFailureHalt), nil, "a", "b"), f, newFakeClock(-1).after)
	events := feed(r.Events())
	<-f.entered
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := outcomes(t, events)
	if got["a"].Outcome != OutcomeUnknown || got["b"].Outcome != OutcomeSkipped || f.hosts["a"].locked {
		t.Errorf("a: %s, b: %s, a locked %v", outcomeOf(got["a"]), outcomeOf(got["b"]), f.hosts["a"].locked)
	}
}
