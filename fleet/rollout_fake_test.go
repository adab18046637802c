package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

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
