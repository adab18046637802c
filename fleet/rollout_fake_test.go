package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/nix"
)

// fakeHost is one host as fakeSteps plays it: its generations and what
// runs, and what its steps do.
type fakeHost struct {
	gens    []string // gens[i] is generation i+1's system
	profile int      // the profile's generation
	current string

	unreachable, lockErr, copyErr error
	// lockHold, when set, holds lock until it is closed.
	lockHold chan struct{}
	// outcome is how the first activation ends (done by default); exit
	// 2 and 4 leave the new system running, as NixOS does.
	outcome nix.Outcome
	cause   string // the first activation's ActivateResult.Cause
	// hold, when set, holds the first activation until it is closed
	// (or the context ends, returning its error).
	hold chan struct{}
	// checks are the results of successive health check attempts; the
	// last repeats. Empty: healthy.
	checks []error
	// checkHold, when set, makes every check attempt wait for ctx.
	checkHold bool
	// lie reports the first activation done without changing anything.
	lie bool
	// broke is the holder of a stale lock the lock step breaks;
	// unlockErr what releasing it returns.
	broke     string
	unlockErr error

	activations int
	checked     int
	locked      bool
}

func (f *fakeHost) state() *nix.HostState {
	st := &nix.HostState{Current: f.current, ProfileGeneration: f.profile}
	for i, g := range f.gens {
		st.Generations = append(st.Generations, nix.Generation{Number: i + 1, Path: g, Profile: i+1 == f.profile, Running: g == f.current})
	}
	if f.profile > 0 {
		st.Profile = f.gens[f.profile-1]
	}
	return st
}

// fakeSteps plays hostSteps for a set of fakeHosts and logs every step
// as "host step" in the order they happened.
type fakeSteps struct {
	t     *testing.T
	mu    sync.Mutex
	hosts map[string]*fakeHost
	log   []string
	// entered receives a host's name when its first activation starts.
	entered chan string
	// locking receives a host's name when it waits on its lockHold.
	locking chan string
	roots   map[string]bool
}

// oldSystem and newSystem are the store paths of a host's systems.
func oldSystem(host string) string {
	return "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-" + host + "-old"
}
func newSystem(host string) string {
	return "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-" + host + "-new"
}

// newFakeSteps makes a host on generation 1 (oldSystem) for each name.
func newFakeSteps(t *testing.T, hosts ...string) *fakeSteps {
	f := &fakeSteps{t: t, hosts: map[string]*fakeHost{}, entered: make(chan string, 100), locking: make(chan string, 100), roots: map[string]bool{}}
	for _, h := range hosts {
		f.hosts[h] = &fakeHost{gens: []string{oldSystem(h)}, profile: 1, current: oldSystem(h)}
	}
	t.Cleanup(func() {
		for name, h := range f.hosts {
			if h.locked {
				t.Errorf("%s: left locked", name)
			}
		}
		for root := range f.roots {
			t.Errorf("GC root %s left", root)
		}
	})
	return f
}

func (f *fakeSteps) host(h *HostRun, step string) *fakeHost {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, h.Node.Name+" "+step)
	return f.hosts[h.Node.Name]
}

// steps lists the steps logged for host, in order.
func (f *fakeSteps) steps(host string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.log {
		if name, step, _ := strings.Cut(l, " "); name == host {
			out = append(out, step)
		}
	}
	return out
}

func (f *fakeSteps) connect(ctx context.Context, h *HostRun) error {
	return f.host(h, "connect").unreachable
}

func (f *fakeSteps) state(ctx context.Context, h *HostRun) (*nix.HostState, error) {
	fh := f.host(h, "state")
	f.mu.Lock()
	defer f.mu.Unlock()
	return fh.state(), nil
}

func (f *fakeSteps) lock(ctx context.Context, h *HostRun, l lockSpec) (string, error) {
	fh := f.host(h, "lock "+l.opID)
	if fh.lockHold != nil {
		f.locking <- h.Node.Name
		<-fh.lockHold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fh.lockErr != nil {
		return "", fh.lockErr
	}
	if fh.locked {
		f.t.Errorf("%s: locked twice", h.Node.Name)
	}
	fh.locked = true
	return fh.broke, nil
}

func (f *fakeSteps) unlock(ctx context.Context, h *HostRun, l lockSpec) error {
	fh := f.host(h, "unlock "+l.opID)
	if ctx.Err() != nil {
		f.t.Errorf("%s: unlocked on a cancelled context", h.Node.Name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fh.locked = false
	return fh.unlockErr
}

func (f *fakeSteps) copy(ctx context.Context, h *HostRun, system, root string) error {
	fh := f.host(h, "copy")
	if !strings.HasPrefix(root, nix.GCRootDir+"/") {
		f.t.Errorf("%s: GC root %s", h.Node.Name, root)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fh.copyErr == nil {
		f.roots[h.Node.Name+":"+root] = true
	}
	return fh.copyErr
}

func (f *fakeSteps) unroot(ctx context.Context, h *HostRun, root string) error {
	f.host(h, "unroot")
	if ctx.Err() != nil {
		f.t.Errorf("%s: root removed on a cancelled context", h.Node.Name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.roots, h.Node.Name+":"+root)
	return nil
}

func (f *fakeSteps) activate(ctx context.Context, h *HostRun, a activation) (nix.ActivateResult, error) {
	step := fmt.Sprintf("activate %s", a.action)
	if a.generation > 0 {
		step += fmt.Sprintf(" generation %d", a.generation)
	}
	if a.confirm > 0 {
		step += " confirmed"
	}
	fh := f.host(h, step)
	f.mu.Lock()
	fh.activations++
	first := fh.activations == 1
	hold, outcome, cause := fh.hold, fh.outcome, fh.cause
	f.mu.Unlock()
	if !first {
		hold, outcome, cause = nil, nix.OutcomeDone, ""
	}
	if first {
		f.entered <- h.Node.Name
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nix.ActivateResult{Outcome: nix.OutcomeFailed, ExitCode: -1}, fmt.Errorf("follow activation: %w", ctx.Err())
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case first && fh.lie:
	case outcome == nix.OutcomeConnectionLost:
		fh.apply(a)
		return nix.ActivateResult{Outcome: outcome, ExitCode: -1}, fmt.Errorf("activation result unknown: %w", nix.ErrConnectionLost)
	case slices.Contains([]nix.Outcome{nix.OutcomeDone, nix.OutcomeActivationFailed, nix.OutcomeUnitsFailed, nix.OutcomeRebootRequired}, outcome):
		fh.apply(a)
	}
	return nix.ActivateResult{Outcome: outcome, ExitCode: exitCodes[outcome], Cause: cause}, nil
}

// exitCodes are switch-to-configuration's exit statuses per outcome.
var exitCodes = map[nix.Outcome]int{nix.OutcomeDone: 0, nix.OutcomeRefused: 1, nix.OutcomeActivationFailed: 2,
	nix.OutcomeUnitsFailed: 4, nix.OutcomeRebootRequired: 100, nix.OutcomeTimedOut: -1, nix.OutcomeFailed: 3, nix.OutcomeRolledBack: 0}

// apply changes the host as a did.
func (fh *fakeHost) apply(a activation) {
	switch {
	case a.action == nix.DryActivate:
		return
	case a.generation > 0:
		fh.profile = a.generation
	case a.action != nix.Test:
		fh.gens = append(fh.gens, a.path)
		fh.profile = len(fh.gens)
	}
	if a.action != nix.Boot {
		fh.current = a.path
	}
}

func (f *fakeSteps) check(ctx context.Context, h *HostRun, c HealthCheck) error {
	fh := f.host(h, "check "+c.Name)
	f.mu.Lock()
	n, checks, hold := fh.checked, fh.checks, fh.checkHold
	fh.checked++
	f.mu.Unlock()
	if hold {
		<-ctx.Done()
		return ctx.Err()
	}
	if len(checks) == 0 {
		return nil
	}
	return checks[min(n, len(checks)-1)]
}

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
