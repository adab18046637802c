package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"nixdeck/nix"
)

// hostSteps are the host-side steps of a rollout, one call each. The
// scheduling, the budget, on_failure, pause and abort, and the order of
// the steps (a lock always released, a GC root always removed) are
// written once over this interface and tested with fakes; nixSteps does
// the steps for real with nix's primitives, and the lab tests it.
type hostSteps interface {
	// connect makes h.Runner the host's connection.
	connect(ctx context.Context, h *HostRun) error
	// state reads the host's state.
	state(ctx context.Context, h *HostRun) (*nix.HostState, error)
	// lock takes the host's lock for l; broke names the holder of a
	// stale lock it broke (l.brk).
	lock(ctx context.Context, h *HostRun, l lockSpec) (broke string, err error)
	// unlock releases the lock taken for l.
	unlock(ctx context.Context, h *HostRun, l lockSpec) error
	// copy copies each job's system's missing paths to its host, making
	// the job's root a GC root of it there before the copy ends; what the
	// jobs' closures share is read once (see rollout_copy.go). The errors
	// are in the order of jobs: a host fails alone.
	copy(ctx context.Context, jobs []copyJob) []error
	// unroot removes a GC root copy made.
	unroot(ctx context.Context, h *HostRun, root string) error
	// activate runs a, detached, and reports how it ended.
	activate(ctx context.Context, h *HostRun, a activation) (nix.ActivateResult, error)
	// check runs one attempt of a health check; nil is healthy.
	check(ctx context.Context, h *HostRun, c HealthCheck) error
}

// lockSpec is the host lock a rollout takes around its changes.
type lockSpec struct {
	profile, opID, owner string
	// brk breaks a lock whose operation is over or older than staleAfter.
	brk        bool
	staleAfter time.Duration
}

// nixSteps are the real host-side steps, through the HostRun's runners.
type nixSteps struct{}

func (nixSteps) connect(ctx context.Context, h *HostRun) error { return h.connect(ctx) }

func (nixSteps) state(ctx context.Context, h *HostRun) (*nix.HostState, error) {
	qctx, cancel := context.WithTimeout(ctx, stateTimeout)
	defer cancel()
	s, err := nix.QueryHostState(qctx, h.Runner)
	if err != nil && ctx.Err() == nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("no answer within %s: %w", stateTimeout, context.DeadlineExceeded)
	}
	return s, err
}

func (nixSteps) lock(ctx context.Context, h *HostRun, l lockSpec) (string, error) {
	broke, err := nix.AcquireLock(ctx, h.Runner, nix.LockRequest{Profile: l.profile, OpID: l.opID, Owner: l.owner,
		PID: os.Getpid(), Break: l.brk, StaleAfter: l.staleAfter})
	if err != nil || broke == nil {
		return "", err
	}
	return broke.String(), nil
}

func (nixSteps) unlock(ctx context.Context, h *HostRun, l lockSpec) error {
	return nix.ReleaseLock(ctx, h.Runner, l.profile, l.opID)
}

func (nixSteps) copy(ctx context.Context, jobs []copyJob) []error {
	errs := make([]error, len(jobs))
	// Jobs whose systems are in the same store share one CopyMany (see
	// source.go); the stores send side by side.
	groups := map[string][]int{}
	var order []string
	runners := map[string]nix.Runner{}
	for i, j := range jobs {
		r, name, err := j.h.op.source(ctx, j.h)
		if err != nil {
			errs[i] = err
			continue
		}
		key := name
		if name == BuildTarget {
			key += ":" + j.h.Node.Name
		}
		if _, ok := runners[key]; !ok {
			order = append(order, key)
			runners[key] = r
		}
		groups[key] = append(groups[key], i)
	}
	var wg sync.WaitGroup
	for _, key := range order {
		wg.Go(func() { copyGroup(ctx, runners[key], jobs, groups[key], errs) })
	}
	wg.Wait()
	return errs
}

// copyGroup copies jobs[idx] from the store src runs on.
func copyGroup(ctx context.Context, src nix.Runner, jobs []copyJob, idx []int, errs []error) {
	targets := make([]nix.CopyTarget, len(idx))
	for k, i := range idx {
		h := jobs[i].h
		targets[k] = nix.CopyTarget{Runner: h.Runner, Paths: []string{jobs[i].system}, Substitute: h.Node.SubstituteOnDestination,
			CacheRequired: jobs[i].cacheRequired, Root: jobs[i].root, Progress: h.copyProgress, Rooting: func() { h.Phase(PhaseRooting) }}
	}
	for k, o := range nix.CopyMany(ctx, src, targets, nix.CopyRequest{}) {
		i := idx[k]
		jobs[i].h.copySource(o.CopyResult, targets[k].Substitute, o.Err)
		if o.Err != nil {
			errs[i] = fmt.Errorf("%s: %w", jobs[i].system, o.Err)
		}
	}
}

func (nixSteps) unroot(ctx context.Context, h *HostRun, root string) error {
	return nix.RemoveRoot(ctx, h.Runner, root)
}

// activate runs a detached; under magic rollback (a.confirm) the
// confirmation goes over a new connection, which then serves the host's
// remaining steps: the operation's connection and the confirming one are
// the only two logins a host sees.
func (nixSteps) activate(ctx context.Context, h *HostRun, a activation) (nix.ActivateResult, error) {
	req := nix.ActivateRequest{Action: a.action, Path: a.path, Generation: a.generation, OpID: a.opID, Timeout: a.timeout}
	if a.confirm > 0 {
		var once sync.Once
		req.ConfirmTimeout = a.confirm
		req.Confirm = func(ctx context.Context) (nix.Runner, error) {
			once.Do(func() { h.Phase(PhaseConfirming) })
			return h.Reconnect(ctx)
		}
	}
	return h.activate(ctx, req)
}

func (nixSteps) check(ctx context.Context, h *HostRun, c HealthCheck) error {
	if c.Run != "" {
		return runCheck(ctx, h.Runner, c)
	}
	return httpCheck(ctx, c.URL(h.Node), c.Expect)
}
