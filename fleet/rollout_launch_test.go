package fleet

import (
	"slices"
	"strings"
	"testing"
)

// A second Abort that lands before a host's activation was launched
// leaves it unchanged: skipped, its lock released. (A rollback has no
// copy step: its host goes from its lock straight to the activation.)
func TestRolloutAbortBeforeTheLaunch(t *testing.T) {
	f := newFakeSteps(t, "a")
	f.hosts["a"].gens = append(f.hosts["a"].gens, newSystem("a"))
	f.hosts["a"].profile, f.hosts["a"].current = 2, newSystem("a")
	f.hosts["a"].lockHold = make(chan struct{})
	r := startRollout(t, f, nil, Plan{Kind: PlanRollback, Nodes: nodes("a"), Policy: policy(1, 0, "")})
	events := feed(r.Events())
	<-f.locking
	r.Abort()
	r.Abort()
	close(f.hosts["a"].lockHold)
	got, _ := outcomes(t, events)
	if o := outcomeOf(got["a"]); o != "skipped: interrupted during activate; unchanged (generation 2)" {
		t.Errorf("a: %s", o)
	}
	if s := f.steps("a"); s[len(s)-1] != "unlock "+r.ID() || f.hosts["a"].activations != 0 || f.hosts["a"].current != newSystem("a") {
		t.Errorf("a: steps %q, %d activations, runs %s", s, f.hosts["a"].activations, f.hosts["a"].current)
	}
}

// A second Abort that lands while the activation is being launched lets
// the launch finish: the activation started, so the host is unknown,
// still activating, with how to check; its lock is released.
func TestRolloutAbortDuringTheLaunch(t *testing.T) {
	f := newFakeSteps(t, "a")
	f.hosts["a"].launchHold = make(chan struct{})
	r := startRollout(t, f, nil, plan(policy(1, 0, OnFailureHalt), nil, "a"))
	events := feed(r.Events())
	<-f.launching
	r.Abort()
	r.Abort()
	close(f.hosts["a"].launchHold)
	got, _ := outcomes(t, events)
	want := "unknown: still activating when nixdeck stopped waiting; the host completes or rolls itself back on its own " +
		"(its activation timeout, 1m0s, is enforced there); check with `nixdeck status --on a` or /run/nixdeck/" + r.ID() + "/status on the host"
	if o := outcomeOf(got["a"]); o != want {
		t.Errorf("a: %s\nwant %s", o, want)
	}
	if s := f.steps("a"); !slices.Equal(s[len(s)-2:], []string{"unroot", "unlock " + r.ID()}) || !strings.HasPrefix(s[4], "activate") {
		t.Errorf("a: steps %q", s)
	}
}
