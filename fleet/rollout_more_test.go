package fleet

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"nixdeck/nix"
)

// An activation that says done while the host runs something else is a
// failure, never a success (deploy-rs #214); a lost connection leaves the
// result unknown and spends the budget; exit 100 is done with a remark; a
// host that went back by itself (magic rollback) is rolled back, says why,
// and spends the budget; a failed magic rollback is a failure.
func TestRolloutTrustsTheHostsStateOverTheActivation(t *testing.T) {
	f := newFakeSteps(t, "liar", "lost", "reboot", "magic", "stuck", "next")
	f.hosts["liar"].lie = true
	f.hosts["lost"].outcome = nix.OutcomeConnectionLost
	f.hosts["reboot"].outcome = nix.OutcomeRebootRequired
	f.hosts["magic"].outcome, f.hosts["magic"].cause = nix.OutcomeRolledBack, nix.CauseNoSSH
	f.hosts["stuck"].outcome, f.hosts["stuck"].cause = nix.OutcomeFailed, nix.CauseTimedOut+"; rolling back failed (switch-to-configuration exit 3)"
	r := startRollout(t, f, nil, plan(policy(1, 3, OnFailureHalt), nil, "reboot", "liar", "lost", "magic", "stuck", "next"))
	got, ops := outcomes(t, feed(r.Events()))
	want := map[string]string{
		"reboot": "done: reboot required for the change to take effect",
		"liar":   "failed: check the activation: the activation reported success, but the host runs " + oldSystem("liar"),
		"lost":   "unknown: the connection was lost during the activation; check with `nixdeck status --on lost` or /run/nixdeck/" + r.ID() + "/status on the host",
		"magic":  "rolled back: no SSH after activation",
		"stuck":  "failed: activate: failed (exit 3): activation timed out; rolling back failed (switch-to-configuration exit 3)",
		"next":   "skipped: not started: the rollout halted (failure budget spent: 4 hosts failed, max_failures is 3)",
	}
	for h, w := range want {
		if s := outcomeOf(got[h]); s != w {
			t.Errorf("%s: %s\nwant %s", h, s, w)
		}
	}
	if len(ops) != 2 {
		t.Errorf("operation events %q", ops)
	}
}

// A broken stale lock is named in the outcome and logged; a lock that
// could not be released is a remark, not a different outcome.
func TestRolloutLockBrokenAndNotReleased(t *testing.T) {
	f := newFakeSteps(t, "a")
	f.hosts["a"].broke = "bob@desk pid=7 op=deploy-old since=2024-07-01T10:00:00Z"
	f.hosts["a"].unlockErr = errors.New("it is held by carol@desk")
	p := plan(policy(1, 0, OnFailureHalt), nil, "a")
	p.BreakLock = true
	var logs []string
	events := make(chan Event, 1000)
	go func() {
		defer close(events)
		for e := range startRollout(t, f, nil, p).Events().All() {
			if l, ok := e.(LogEvent); ok && l.Source == "lock" {
				logs = append(logs, l.Line)
			}
			events <- e
		}
	}()
	got, _ := outcomes(t, events)
	if o := got["a"]; o.LockBroken != f.hosts["a"].broke || outcomeOf(o) != "done: lock not released: it is held by carol@desk" {
		t.Errorf("a: %+v", o)
	}
	if len(logs) != 2 || !strings.HasPrefix(logs[0], "broke the stale lock of bob@desk") || !strings.HasPrefix(logs[1], "releasing the lock failed") {
		t.Errorf("lock log %q", logs)
	}
}

// recorder keeps the events it is given.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Record(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// The plan's Recorder sees every event of the rollout, in the stream's
// order, before the stream does.
func TestRolloutRecorder(t *testing.T) {
	f := newFakeSteps(t, "a", "b")
	f.hosts["b"].outcome = nix.OutcomeUnitsFailed
	rec := &recorder{}
	p := plan(policy(2, 0, OnFailureRollbackFailed), nil, "a", "b")
	p.Recorder = rec
	var streamed []Event
	for e := range startRollout(t, f, nil, p).Events().All() {
		rec.mu.Lock()
		recorded := len(rec.events)
		rec.mu.Unlock()
		if recorded <= len(streamed) {
			t.Errorf("%T reached the stream before the recorder", e)
		}
		streamed = append(streamed, e)
	}
	if len(streamed) != len(rec.events) || len(streamed) < 20 {
		t.Fatalf("%d events streamed, %d recorded", len(streamed), len(rec.events))
	}
	for i := range streamed {
		if !reflect.DeepEqual(streamed[i], rec.events[i]) {
			t.Fatalf("event %d: streamed %#v, recorded %#v", i, streamed[i], rec.events[i])
		}
	}
}
