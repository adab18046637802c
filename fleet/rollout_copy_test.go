package fleet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// gatherClock is a clock whose copy gathering ends only when the test
// sends on its gather channel.
func gatherClock() *fakeClock {
	c := newFakeClock(-1)
	c.gather = make(chan time.Time)
	return c
}

// The hosts of a wave that reach their copy step copy in one batch; an
// unchanged host and an unreachable one are not waited for, and a host
// whose copy fails fails alone.
func TestRolloutCopiesInOneBatch(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c", "d", "e")
	f.hosts["b"].gens = append(f.hosts["b"].gens, newSystem("b"))
	f.hosts["b"].profile, f.hosts["b"].current = 2, newSystem("b")
	f.hosts["c"].unreachable = errRefused
	f.hosts["d"].copyErr = errors.New("disk full")
	r := startRollout(t, f, gatherClock(), plan(policy(10, 5, OnFailureHalt), nil, "a", "b", "c", "d", "e"))
	got, _ := outcomes(t, feed(r.Events()))
	want := map[string]Outcome{"a": OutcomeDone, "b": OutcomeUnchanged, "c": OutcomeUnreachable, "d": OutcomeFailed, "e": OutcomeDone}
	for h, w := range want {
		if got[h].Outcome != w {
			t.Errorf("%s: %s, want %s", h, outcomeOf(got[h]), w)
		}
	}
	if o := outcomeOf(got["d"]); o != "failed: copy: disk full" {
		t.Errorf("d: %s", o)
	}
	if !slices.Equal(f.batches, []string{"a,d,e"}) {
		t.Errorf("copy batches %q, want one of a, d and e", f.batches)
	}
}

// With one host at a time, each host copies alone and never waits.
func TestRolloutCopiesOneAtATime(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c")
	r := startRollout(t, f, gatherClock(), plan(policy(1, 0, OnFailureHalt), nil, "a", "b", "c"))
	outcomes(t, feed(r.Events()))
	if !slices.Equal(f.batches, []string{"a", "b", "c"}) {
		t.Errorf("copy batches %q, want one per host", f.batches)
	}
}

// A host stuck before its copy step holds the others only until the
// gathering's deadline; it then copies in a batch of its own.
func TestRolloutCopyDoesNotWaitForAStuckHost(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c")
	f.hosts["b"].lockHold = make(chan struct{})
	c := gatherClock()
	r := startRollout(t, f, c, plan(policy(10, 0, OnFailureHalt), nil, "a", "b", "c"))
	events := feed(r.Events())
	<-f.locking
	copying := map[string]bool{}
	seen := waitFor(t, events, func(e Event) bool {
		if p, ok := e.(PhaseEvent); ok && p.Phase == PhaseCopying {
			copying[p.Host()] = true
		}
		return copying["a"] && copying["c"]
	})
	c.gather <- time.Time{}
	<-f.entered
	<-f.entered
	close(f.hosts["b"].lockHold)
	got, _ := outcomes(t, replay(seen, events))
	for _, h := range []string{"a", "b", "c"} {
		if got[h].Outcome != OutcomeDone {
			t.Errorf("%s: %s", h, outcomeOf(got[h]))
		}
	}
	if !slices.Equal(f.batches, []string{"a,c", "b"}) {
		t.Errorf("copy batches %q, want a and c, then b", f.batches)
	}
}

// A second Abort ends a host's wait for its batch: it is unchanged,
// skipped, and its lock is released.
func TestRolloutAbortWhileWaitingToCopy(t *testing.T) {
	f := newFakeSteps(t, "a", "b", "c")
	f.hosts["b"].lockHold = make(chan struct{})
	f.hosts["b"].lockErr = context.Canceled // as a lock command killed by the cancellation would
	r := startRollout(t, f, gatherClock(), plan(policy(2, 0, OnFailureHalt), nil, "a", "b", "c"))
	events := feed(r.Events())
	<-f.locking
	seen := waitFor(t, events, func(e Event) bool {
		p, ok := e.(PhaseEvent)
		return ok && p.Host() == "a" && p.Phase == PhaseCopying
	})
	r.Abort()
	r.Abort()
	close(f.hosts["b"].lockHold)
	got, _ := outcomes(t, replay(seen, events))
	for h, want := range map[string]string{"a": "interrupted during copy", "b": "interrupted during lock", "c": "not started"} {
		if o := got[h]; o.Outcome != OutcomeSkipped || !strings.HasPrefix(o.Cause, want) {
			t.Errorf("%s: %s, want skipped: %s", h, outcomeOf(o), want)
		}
	}
	if len(f.batches) != 0 {
		t.Errorf("copy batches %q, want none", f.batches)
	}
}

// A second Abort ends a batch in flight: its hosts are unchanged,
// skipped, their locks released and no GC root left.
func TestRolloutAbortWhileCopying(t *testing.T) {
	f := newFakeSteps(t, "a", "b")
	f.hosts["a"].copyHold = make(chan struct{}) // never released
	r := startRollout(t, f, gatherClock(), plan(policy(2, 0, OnFailureHalt), nil, "a", "b"))
	events := feed(r.Events())
	<-f.copying
	r.Abort()
	r.Abort()
	got, _ := outcomes(t, events)
	for _, h := range []string{"a", "b"} {
		if o := outcomeOf(got[h]); !strings.HasPrefix(o, "skipped: interrupted during copy; unchanged (generation 1)") {
			t.Errorf("%s: %s", h, o)
		}
	}
	if !slices.Equal(f.batches, []string{"a,b"}) {
		t.Errorf("copy batches %q, want a and b", f.batches)
	}
}
