package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"nixdeck/nix"
)

// activation is one switch-to-configuration run a rollout asks of a host.
type activation struct {
	action nix.Action
	path   string
	// generation > 0 moves the profile to that existing generation (a
	// rollback) rather than setting it to path, which must be its system.
	generation int
	// opID names the host's run directory and the lock held meanwhile.
	opID string
	// timeout is Policy.ActivationTimeout; confirm, when > 0, the magic
	// rollback's wait for a confirmation over a new connection.
	timeout, confirm time.Duration
}

// activate runs a on the host and records how it ended in res; a
// reported success is checked against the host's state. A host nixdeck
// stopped waiting for is unknown (it completes or rolls itself back).
func (r *run) activate(ctx context.Context, h *HostRun, res *hostResult, a activation) {
	a.timeout = r.p.Policy.ActivationTimeout
	if r.p.Policy.MagicRollback && (a.action == nix.Switch || a.action == nix.Test) {
		a.confirm = r.p.Policy.ConfirmTimeout
	}
	ar, err := r.steps.activate(ctx, h, a)
	if err != nil && ctx.Err() != nil {
		res.lost(err, "still activating when nixdeck stopped waiting (if it had started); the host completes or rolls itself back on its own; check with "+r.howToCheck(h, a.opID))
		return
	}
	ok := r.judgeActivation(h, res, a, ar, err)
	if ok && a.action == nix.DryActivate {
		res.outcome = OutcomeDone
		return
	}
	if !ok && !res.changed {
		return
	}
	// Where the host is now: a success is checked, and a failed
	// activation that left the host changed says to which generation.
	st, err := r.steps.state(ctx, h)
	switch {
	case !ok:
		if err == nil {
			res.toGen = st.ProfileGeneration
		}
		return
	case err != nil && ctx.Err() != nil:
		res.lost(err, "activated, then nixdeck stopped waiting before reading the host's state; check with "+r.howToCheck(h, a.opID))
		return
	case err != nil:
		res.fail("check the activation", err)
		return
	}
	h.Emit(StateEvent{EventBase: h.Base(), State: st})
	res.toGen = st.ProfileGeneration
	if err := landed(st, a); err != nil {
		res.fail("check the activation", err)
		return
	}
	res.outcome = OutcomeDone
}

// judgeActivation records an activation that did not succeed in res,
// with whether the host was left changed, and reports whether it did.
func (r *run) judgeActivation(h *HostRun, res *hostResult, a activation, ar nix.ActivateResult, err error) bool {
	res.changed = a.action != nix.DryActivate
	switch {
	case ar.Outcome == nix.OutcomeConnectionLost:
		res.outcome, res.changed = OutcomeUnknown, false
		if err == nil {
			err = nix.ErrConnectionLost
		}
		res.setCause("activate", err)
		res.cause = "the connection was lost during the activation; check with " + r.howToCheck(h, a.opID)
		return false
	case err != nil:
		// Starting failed, or the profile could not be set: nothing ran.
		res.changed = false
		res.fail("activate", err)
		return false
	}
	switch ar.Outcome {
	case nix.OutcomeDone:
		return true
	case nix.OutcomeRebootRequired:
		res.remark("reboot required for the change to take effect")
		return true
	case nix.OutcomeRolledBack:
		// Magic rollback: the host went back by itself; ar.Cause says
		// why ("no SSH after activation", "activation timed out").
		res.outcome, res.changed = OutcomeRolledBack, false
		res.err = &HostError{Step: "activate", Err: errors.New("rolled back: " + ar.Cause)}
		res.cause = shortCause("", errors.New(ar.Cause))
		return false
	case nix.OutcomeRefused:
		// switch-to-configuration refused and the profile went back.
		res.changed = false
	}
	msg := ar.Outcome.String()
	if ar.ExitCode >= 0 {
		msg += fmt.Sprintf(" (exit %d)", ar.ExitCode)
	}
	if ar.Cause != "" {
		msg += ": " + ar.Cause
	}
	res.fail("activate", errors.New(msg))
	return false
}

// landed checks that the host is where a took it: running its system
// (switch, test), its profile on it (switch, boot), on its generation.
func landed(st *nix.HostState, a activation) error {
	if a.action == nix.Switch || a.action == nix.Test {
		if st.Current != a.path {
			return fmt.Errorf("the activation reported success, but the host runs %s", orNone(st.Current))
		}
	}
	if a.action == nix.Switch || a.action == nix.Boot {
		if st.Profile != a.path {
			return fmt.Errorf("the activation reported success, but the profile holds %s", orNone(st.Profile))
		}
		if a.generation > 0 && st.ProfileGeneration != a.generation {
			return fmt.Errorf("the profile is at generation %d, not %d", st.ProfileGeneration, a.generation)
		}
	}
	return nil
}

func orNone(p string) string {
	if p == "" {
		return "nothing"
	}
	return p
}

// onFailure applies Policy.OnFailure once the rollout has halted: the
// failed hosts (rollback-failed) or every host it changed (rollback-all)
// go back where they were, Parallel at a time. A pause holds them; an
// Abort leaves those not yet started as they are.
func (r *run) onFailure() {
	all := r.p.Policy.OnFailure == OnFailureRollbackAll
	if !all && r.p.Policy.OnFailure != OnFailureRollbackFailed {
		return
	}
	var wg sync.WaitGroup
	for _, rec := range r.hosts {
		if !rec.started || rec.settled || !rec.res.changed || (!all && rec.res.outcome != OutcomeFailed) {
			continue
		}
		if !r.ctl.acquire(r.ctx, r.p.Policy.Parallel, true) {
			rec.res.remark("not rolled back: " + r.whyStopped())
			continue
		}
		r.flushNotices()
		wg.Go(func() {
			defer r.ctl.release()
			r.goBack(r.ctx, rec.h, &rec.res)
		})
	}
	wg.Wait()
}

// goBack takes a changed host back to where it was at the start, under
// its lock, protected by magic rollback like any switch.
func (r *run) goBack(ctx context.Context, h *HostRun, res *hostResult) {
	defer timed(res)()
	if res.back == nil {
		res.remark("not rolled back: no generation was recorded at the start")
		return
	}
	h.Phase(PhaseRollback)
	to := "the system it ran"
	if res.back.generation > 0 {
		to = fmt.Sprintf("generation %d", res.back.generation)
	}
	a := *res.back
	a.opID = r.o.id + "-back"
	var back hostResult
	r.locked(ctx, h, a.opID, &back, func() { r.activate(ctx, h, &back, a) })
	switch {
	case back.outcome == OutcomeDone:
		note := fmt.Sprintf("rolled back to %s (%s)", to, r.p.Policy.OnFailure)
		res.outcome, res.changed = OutcomeRolledBack, false
		res.remark(note)
		if res.err != nil {
			res.err = fmt.Errorf("%w; %s", res.err, note)
		}
	case back.interrupted:
		res.outcome, res.interrupted = OutcomeUnknown, true
		res.remark("rolling back to " + to + ": " + back.cause)
		res.err = &interruptedError{errors.New(res.cause)}
	default:
		res.outcome = OutcomeFailed
		res.remark("rolling back to " + to + " failed: " + back.cause)
		res.err = errors.New(res.cause)
	}
}
