package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"nixdeck/nix"
)

// hostResult is where a host of a rollout stands: its outcome so far,
// why, where it came from and went, and how to take it back.
type hostResult struct {
	outcome              Outcome
	cause                string
	err                  error // the DoneEvent's: the full cause, a *HostError
	fromSystem, toSystem string
	fromGen, toGen       int
	// changed: the host's system or profile is this rollout's and stays
	// so until something takes it back (on_failure may).
	changed bool
	// back is how to take the host back to where it was; nil when the
	// state read at the start did not say (no generation to go to).
	back *activation
	// interrupted: the host's work was cut by a second Abort (or the
	// rollout's context), not failed; it is not counted or judged.
	interrupted bool
	lockBroken  string
	took        time.Duration
}

// maxCause bounds HostOutcome.Cause: one line of a table, not a log.
const maxCause = 300

// fail makes the result failed at step with err.
func (r *hostResult) fail(step string, err error) {
	r.outcome = OutcomeFailed
	r.setCause(step, err)
}

// setCause records err as the result's cause, named by step.
func (r *hostResult) setCause(step string, err error) {
	r.err = &HostError{Step: step, Err: err}
	r.cause = shortCause(step, err)
}

// shortCause renders "step: err" on one line, cut to maxCause bytes.
func shortCause(step string, err error) string {
	msg := err.Error()
	if step != "" {
		msg = step + ": " + msg
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > maxCause {
		msg = strings.ToValidUTF8(msg[:maxCause], "") + "…"
	}
	return msg
}

// remark adds a note to the cause without changing the outcome.
func (r *hostResult) remark(note string) {
	if r.cause == "" {
		r.cause = note
		return
	}
	r.cause += "; " + note
}

// stopped records that step ended with err before the host was touched:
// an interruption when ctx was cancelled (the host is skipped,
// unchanged), else a failure.
func (r *hostResult) stopped(ctx context.Context, step string, err error) {
	if ctx.Err() == nil {
		r.fail(step, err)
		return
	}
	r.interrupted = true
	r.outcome = OutcomeSkipped
	r.err = &interruptedError{err}
	r.cause = fmt.Sprintf("interrupted during %s; unchanged (generation %d)", step, r.fromGen)
}

// lost records that nixdeck stopped waiting (err) while the host may be
// changing: its outcome is unknown, and cause says what to do.
func (r *hostResult) lost(err error, cause string) {
	r.interrupted = true
	r.outcome = OutcomeUnknown
	r.err = &interruptedError{err}
	r.cause = cause
}

// ok reports a host that ended as asked: done or unchanged.
func (r *hostResult) ok() bool { return r.outcome == OutcomeDone || r.outcome == OutcomeUnchanged }

// counts reports a result that spends the failure budget: the host
// failed, or went back by itself, or its result is unknown without an
// interruption (the connection was lost during the activation). An
// unreachable host does not: it says nothing of the release.
func (r *hostResult) counts() bool {
	switch r.outcome {
	case OutcomeFailed, OutcomeRolledBack:
		return true
	case OutcomeUnknown:
		return !r.interrupted
	}
	return false
}

// final reports whether on_failure can still change the result: a
// changed host that is done (under rollback-all) or failed (under
// either rollback) waits for the end of the rollout.
func (r *hostResult) final(onFailure string) bool {
	switch {
	case !r.changed:
		return true
	case r.outcome == OutcomeDone:
		return onFailure != OnFailureRollbackAll
	case r.outcome == OutcomeFailed:
		return onFailure == OnFailureHalt
	}
	return true
}

// finish ends the host's part of the rollout: its final phase, its
// HostOutcome, then its DoneEvent, whose Err is nil for done and
// unchanged and else a *HostError with the cause (matching
// ErrInterrupted for a host stopped by a second Abort).
func (h *HostRun) finish(r hostResult) {
	phase := PhaseFailed
	switch {
	case r.ok():
		phase = PhaseDone
	case r.outcome == OutcomeSkipped || r.interrupted:
		phase = PhaseInterrupted
	}
	h.Phase(phase)
	h.Emit(HostOutcome{EventBase: h.Base(), Outcome: r.outcome, FromSystem: r.fromSystem, ToSystem: r.toSystem,
		FromGen: r.fromGen, ToGen: r.toGen, Cause: r.cause, LockBroken: r.lockBroken, Duration: r.took})
	var err error
	if !r.ok() {
		err = r.err
		if err == nil {
			err = errors.New(r.cause)
		}
		if he, ok := err.(*HostError); ok {
			he.Host = h.Node.Name
		} else {
			err = &HostError{Host: h.Node.Name, Err: err}
		}
	}
	h.Emit(DoneEvent{EventBase: h.Base(), Err: err})
}

// isUnchanged reports whether a host in state st already is where action
// would take it with system: nothing to copy, nothing to activate.
func isUnchanged(st *nix.HostState, system string, action nix.Action) bool {
	switch action {
	case nix.Switch:
		return st.Current == system && st.Profile == system
	case nix.Boot:
		return st.Profile == system
	}
	return st.Current == system
}

// backFrom is how to take a host in state st back after action: the
// profile's generation for switch and boot, the running system for test.
func backFrom(st *nix.HostState, action nix.Action) *activation {
	switch action {
	case nix.Switch, nix.Boot:
		if g, ok := st.Generation(st.ProfileGeneration); ok {
			return &activation{action: action, path: g.Path, generation: g.Number}
		}
	case nix.Test:
		if st.Current != "" {
			return &activation{action: nix.Test, path: st.Current}
		}
	}
	return nil
}
