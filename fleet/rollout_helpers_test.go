package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
)

// fakeClock is the rollout's clock in tests: health check retries come
// at once, a soak ends when the test says.
type fakeClock struct {
	soak      time.Duration
	soakStart chan struct{} // receives when a soak begins
	soakEnd   chan time.Time
}

func newFakeClock(soak time.Duration) *fakeClock {
	return &fakeClock{soak: soak, soakStart: make(chan struct{}, 10), soakEnd: make(chan time.Time)}
}

func (c *fakeClock) after(d time.Duration) <-chan time.Time {
	if d == c.soak {
		c.soakStart <- struct{}{}
		return c.soakEnd
	}
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

// plan is a deploy of names (canary ones first) with the new systems.
func plan(pol Deploy, canary []string, hosts ...string) Plan {
	p := Plan{Kind: PlanDeploy, Action: nix.Switch, Nodes: nodes(hosts...), Systems: map[string]string{}, Policy: pol, Owner: "op@desk"}
	for _, n := range p.Nodes {
		p.Systems[n.Name] = newSystem(n.Name)
		if slices.Contains(canary, n.Name) {
			p.Canary = append(p.Canary, n)
		}
	}
	return p
}

// policy is a deploy policy with no soak, no checks, no magic rollback.
func policy(parallel, maxFailures int, onFailure string) Deploy {
	return Deploy{Parallel: parallel, MaxFailures: maxFailures, OnFailure: onFailure, ActivationTimeout: time.Minute}
}

// startRollout starts p on f's hosts with clock c and returns its handle.
func startRollout(t *testing.T, f *fakeSteps, c *fakeClock, p Plan) *Rollout {
	e := engine(t, fakeConnector{}, 1)
	if c == nil {
		c = newFakeClock(-1)
	}
	return e.rollout(context.Background(), p, f, c.after)
}

// outcomes reads the rollout to its end and returns every host's
// HostOutcome, checking each is followed by the host's DoneEvent, and
// the operation-level events as "kind detail" lines.
func outcomes(t *testing.T, events <-chan Event) (map[string]HostOutcome, []string) {
	t.Helper()
	got := map[string]HostOutcome{}
	var ops []string
	pending := ""
	for e := range events {
		if pending != "" {
			if d, ok := e.(DoneEvent); !ok || d.Host() != pending {
				t.Errorf("%s: HostOutcome followed by %T for %q, want its DoneEvent", pending, e, e.Host())
			}
			pending = ""
		}
		switch e := e.(type) {
		case HostOutcome:
			if _, dup := got[e.Host()]; dup {
				t.Errorf("%s: two HostOutcomes", e.Host())
			}
			got[e.Host()] = e
			pending = e.Host()
		case DoneEvent:
			if (e.Err == nil) != (got[e.Host()].Outcome == OutcomeDone || got[e.Host()].Outcome == OutcomeUnchanged) {
				t.Errorf("%s: DoneEvent error %v with outcome %s", e.Host(), e.Err, got[e.Host()].Outcome)
			}
		case WaveStarted:
			ops = append(ops, fmt.Sprintf("wave %d canary=%v %s", e.Wave, e.Canary, strings.Join(e.Hosts, ",")))
		case WaveHealthy:
			ops = append(ops, fmt.Sprintf("healthy %d", e.Wave))
		case RolloutHalted:
			ops = append(ops, "halted "+e.Reason)
		case RolloutPaused:
			ops = append(ops, fmt.Sprintf("paused %v", e.Paused))
		case AbortRequested:
			ops = append(ops, fmt.Sprintf("abort second=%v", e.Second))
		case OpFinished:
			if e.Err != nil {
				ops = append(ops, "error "+e.Err.Error())
			}
		}
	}
	return got, ops
}

// feed passes a stream's events to a channel, for tests that act while
// the rollout runs.
func feed(s *Stream) <-chan Event {
	ch := make(chan Event, 1000)
	go func() {
		defer close(ch)
		for e := range s.All() {
			ch <- e
		}
	}()
	return ch
}

// waitFor reads events until one satisfies ok, and returns them all.
func waitFor(t *testing.T, events <-chan Event, ok func(Event) bool) []Event {
	t.Helper()
	var seen []Event
	for e := range events {
		seen = append(seen, e)
		if ok(e) {
			return seen
		}
	}
	t.Fatal("the rollout ended before the awaited event")
	return nil
}

// replay yields the events seen, then the rest.
func replay(seen []Event, rest <-chan Event) <-chan Event {
	ch := make(chan Event, len(seen)+1000)
	for _, e := range seen {
		ch <- e
	}
	go func() {
		defer close(ch)
		for e := range rest {
			ch <- e
		}
	}()
	return ch
}

// waitBlocked waits until running hosts run and the scheduler waits to
// start another (paused, or no slot free).
func waitBlocked(r *Rollout, running int) {
	c := r.ctl
	for {
		c.mu.Lock()
		idle, ch := c.running == running && c.waiting > 0, c.changed
		c.mu.Unlock()
		if idle {
			return
		}
		<-ch
	}
}

// outcomeOf renders a host's outcome and cause for comparisons.
func outcomeOf(o HostOutcome) string { return string(o.Outcome) + ": " + o.Cause }

var errRefused = errors.New("connection refused")
