package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"nixdeck/internal/proc"
)

// Action is what switch-to-configuration is asked to do.
type Action string

// The four NixOS activation actions.
const (
	// Switch sets the profile (boot default) and activates now.
	Switch Action = "switch"
	// Boot sets the profile only; the running system is unchanged.
	Boot Action = "boot"
	// Test activates without touching the profile.
	Test Action = "test"
	// DryActivate changes nothing and prints what would happen.
	DryActivate Action = "dry-activate"
)

// ActivateRequest describes one activation on one host.
type ActivateRequest struct {
	// Action is switch, boot, test or dry-activate.
	Action Action
	// Path is the system store path (already on the host).
	Path string
	// Generation, when > 0, makes switch/boot move the profile to that
	// existing generation (nix-env --switch-generation: a rollback) instead
	// of setting it to Path; Path must then be that generation's system.
	Generation int
	// OpID names the run directory /run/nixdeck/<OpID> and the systemd unit
	// nixdeck-<OpID>; unique per host and activation ([A-Za-z0-9_.-], not
	// starting with a dot, not "lock" or "lock-*"). The run directory may
	// exist already, empty of any activation (AcquireLock makes it).
	OpID string
	// Timeout bounds the activation (activation_timeout); 0 means only ctx
	// bounds it. A timed-out activation is killed: a hung one would hold
	// the switch lock and block every later deployment. The host enforces
	// it by itself (see activate_run.go), so it holds even once nixdeck
	// has stopped waiting; nixdeck stops the activation itself only if the
	// host has not, hostStopGrace later. Under magic rollback it bounds
	// switch-to-configuration, and then again the rollback, if one runs.
	Timeout time.Duration
	// Log receives the activation's output line by line. May be nil.
	Log func(line string)
	// Reconnect, when set, returns a runner on a fresh connection to the
	// host; Activate calls it (with backoff) after the connection dropped,
	// to go on following the activation.
	Reconnect func(ctx context.Context) (Runner, error)
	// ConfirmTimeout > 0 turns on magic rollback for switch and test (boot
	// and dry-activate change nothing live and are never confirmed): once
	// the new system runs, the host waits this long for a confirmation
	// and, without one, switches back by itself to what ran before. A
	// timed-out activation is rolled back too. See activate_confirm.go.
	ConfirmTimeout time.Duration
	// Confirm dials a NEW connection to the host and returns a runner on
	// it; Activate calls it once the host reports the new system running,
	// and retries until the confirmation deadline, and confirms over that
	// connection only. Required under magic rollback.
	Confirm func(ctx context.Context) (Runner, error)
	// Stage, when set, is called as the activation reaches each stage
	// (StageStarted, then StageSwitching), from Activate's goroutine.
	Stage func(ActivateStage)
}

// ActivateStage is a point a detached activation has reached, reported
// through ActivateRequest.Stage.
type ActivateStage int

const (
	// StageStarted: the detached activation runs (its launch succeeded).
	// From here on the host may change, whatever becomes of nixdeck.
	StageStarted ActivateStage = iota
	// StageSwitching: the system profile is set (switch, boot) and
	// switch-to-configuration starts.
	StageSwitching
)

// stage reports s through Stage, if set.
func (q ActivateRequest) stage(s ActivateStage) {
	if q.Stage != nil {
		q.Stage(s)
	}
}

// ErrNotStarted is matched by Activate's error when the activation was
// certainly not started (ctx ended before it, or the launch failed on
// the host): nothing changed there.
var ErrNotStarted = errors.New("the activation was not started")

// magic reports whether the activation is under magic rollback.
func (q ActivateRequest) magic() bool {
	return q.ConfirmTimeout > 0 && (q.Action == Switch || q.Action == Test)
}

// ActivateResult is how an activation ended.
type ActivateResult struct {
	Outcome Outcome
	// ExitCode is switch-to-configuration's (or nix-env's) exit status; -1 if unknown.
	ExitCode int
	// Reconnects counts the fresh connections needed to read the result.
	Reconnects int
	// Cause says why the host was rolled back, or why a rollback failed
	// (CauseTimedOut, CauseNoSSH, CauseNotConfirmed, then what went wrong);
	// "" otherwise.
	Cause string
	// Confirmed is true when the host recorded the confirmation (magic
	// rollback): the only way to OutcomeDone under magic rollback.
	Confirmed bool
	// ConfirmErr is the last failure to confirm over a new connection,
	// when no confirmation got through.
	ConfirmErr error
	// Started is true once the detached activation is known to have
	// started: from then on the host may have changed.
	Started bool
}

// NewOpID returns a fresh operation id for ActivateRequest.OpID, e.g.
// "switch-20240701T100000-3f2a9c": readable in `ls /run/nixdeck` and
// `systemctl list-units 'nixdeck-*'`, unique across operators.
func NewOpID(action Action) string {
	return fmt.Sprintf("%s-%s-%06x", action, time.Now().UTC().Format("20060102T150405"), rand.Uint32()&0xffffff)
}

// Activate starts the activation detached from the connection, streams its
// output and returns the classified result. A dropped connection during the
// wait is survived through req.Reconnect (the output resumes at the byte it
// stopped at); the error is non-nil only when the outcome could not be
// learned (connection lost for good, cancelled) or starting failed. Under
// magic rollback the result is OutcomeDone only when the host recorded
// the confirmation; a host that rolled back is OutcomeRolledBack with
// its Cause.
func Activate(ctx context.Context, r Runner, req ActivateRequest) (res ActivateResult, err error) {
	res = ActivateResult{Outcome: OutcomeFailed, ExitCode: -1}
	switch req.Action {
	case Switch, Boot, Test, DryActivate:
	default:
		return res, fmt.Errorf("activate: unknown action %q", req.Action)
	}
	if !validOpID(req.OpID) || !strings.HasPrefix(req.Path, "/") {
		return res, fmt.Errorf("activate: bad operation id %q or system path %q", req.OpID, req.Path)
	}
	if req.magic() && req.Confirm == nil {
		return res, errors.New("activate: magic rollback needs Confirm, a way to reach the host over a new connection")
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%w: %w", ErrNotStarted, err)
	}
	err = launch(ctx, r, req)
	switch {
	case errors.Is(err, ErrNotStarted), err != nil && ctx.Err() != nil:
		return res, err
	case err == nil:
		res.Started = true
		req.stage(StageStarted)
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("the activation started, then nixdeck stopped waiting: %w", err)
		}
	}
	switching := false
	lines := LineWriter(func(l string) {
		// The run script's line before switch-to-configuration, once: a
		// stage, not output.
		if !switching && strings.HasPrefix(l, stageSwitchingLine) {
			switching = true
			req.stage(StageSwitching)
			return
		}
		if req.Log != nil {
			req.Log(l)
		}
	})
	defer lines.Flush()
	f := &follower{req: req, lines: lines, used: []Runner{r}}
	defer func() { res.Reconnects = f.reconnects }()
	if errors.Is(err, ErrConnectionLost) {
		// The activation may run anyway: following it after reconnecting
		// finds out. (A start that merely took too long is followed on the
		// same connection.)
		f.lost = err
	}
	// The host stops the activation at its limit by itself; this side
	// waits that long (twice under magic rollback: a rollback may follow),
	// and some grace, before stopping it. The wait starts once the
	// process runs, so a slow start cannot eat it.
	actx, cancel := ctx, context.CancelFunc(func() {})
	if req.Timeout > 0 {
		wait := req.Timeout
		if req.magic() {
			wait *= 2
		}
		actx, cancel = context.WithTimeout(ctx, wait+hostStopGrace)
	}
	defer cancel()
	status, err := f.run(actx, ctx, r)
	if err == nil && status != "gone" {
		res.Started = true // its run directory says so
	}
	switch {
	case err != nil && actx.Err() != nil && ctx.Err() == nil && f.lost != nil:
		// The host stayed unreachable until the timeout: nothing can be
		// stopped, and the activation may have finished well.
		res.Outcome = OutcomeConnectionLost
		return res, fmt.Errorf("activation result unknown: %w", err)
	case err != nil && actx.Err() != nil && ctx.Err() == nil:
		return f.stop(ctx, res)
	case errors.Is(err, ErrConnectionLost):
		res.Outcome = OutcomeConnectionLost
		return res, err
	case err != nil:
		return res, err
	case req.magic() && status == statusAwaiting:
		return f.confirm(ctx, res)
	}
	return classify(res, status, req.magic(), "")
}

// launch starts the detached activation. Once started, the launch runs
// to its end even if ctx ends (for up to launchGrace more): cut short,
// it would leave unknown whether the activation started, which is what a
// caller that stopped waiting must be told. An error matching
// ErrNotStarted means nothing ran.
func launch(ctx context.Context, r Runner, req ActivateRequest) error {
	var errb bytes.Buffer
	c := req.launchCmd()
	c.Stderr = &errb
	lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), launchTimeout)
	defer lcancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(launchGrace, lcancel) })
	defer stop()
	err := r.Run(lctx, c)
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return fmt.Errorf("%w: start activation in %s: exit status %d: %s", ErrNotStarted, req.dir(), ee.Code, proc.StderrTail(errb.String()))
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("start activation (it may have started): %w", err)
	}
	return err
}

// stop kills an activation that ran past its limit and that the host
// did not stop by itself (the run script's watchdog failed).
func (f *follower) stop(ctx context.Context, res ActivateResult) (ActivateResult, error) {
	res.Outcome = OutcomeTimedOut
	kill := f.req.killCmd()
	kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer kcancel()
	if kerr := f.runner.Run(kctx, kill); kerr != nil {
		return res, fmt.Errorf("activation timed out after %s and the host did not stop it; stopping it failed: %w", f.req.Timeout, scriptError{"stop", kill.Argv, kerr})
	}
	res.Cause = "the host did not stop it at its limit; nixdeck did"
	return res, nil
}

// classify turns the recorded status into an outcome; cause is the
// client's account of an unconfirmed rollback (CauseNoSSH or
// CauseNotConfirmed), "" when it knows none.
func classify(res ActivateResult, status string, magic bool, cause string) (ActivateResult, error) {
	kind, rest, _ := strings.Cut(status, " ")
	code, why, _ := strings.Cut(rest, " ")
	n, convErr := strconv.Atoi(code)
	switch {
	case kind == "activate" && convErr == nil && magic && n == 0:
		// deploy-rs #214: success is what the host recorded after a
		// confirmation, never an exit 0 alone.
		res.ExitCode = 0
		return res, errors.New("the host recorded success without a confirmation")
	case kind == "activate" && convErr == nil:
		res.ExitCode = n
		res.Outcome = outcomeOf(n)
		return res, nil
	case kind == "confirmed" && convErr == nil && n == 0 && magic:
		res.ExitCode, res.Outcome, res.Confirmed = 0, OutcomeDone, true
		return res, nil
	case (kind == "rolled-back" || kind == "rollback-profile") && convErr == nil && magic && (why == "timeout" || why == "unconfirmed"):
		return rolledBack(res, kind, n, why, cause), nil
	case kind == "noprevious" && magic:
		return res, errors.New("magic rollback: the host has no running system (" + CurrentSystemLink + ") to roll back to; nothing was changed")
	case kind == "profile" && convErr == nil:
		res.ExitCode = n
		return res, fmt.Errorf("setting the system profile failed (exit %d); nothing was activated", n)
	case kind == "killed":
		res.Outcome = OutcomeTimedOut
		return res, nil
	case kind == "gone":
		res.Outcome = OutcomeConnectionLost
		return res, errors.New("the activation's run directory is gone (host rebooted?); its result is unknown")
	}
	return res, fmt.Errorf("the activation process ended without recording a status (%s)", excerpt(status))
}

// launchTimeout bounds starting the detached activation, and
// launchGrace how long a launch goes on once its caller's context has
// ended; hostStopGrace is how long past its limits the host is given to
// stop an activation by itself (variables so tests can shorten them).
var (
	launchTimeout = 2 * time.Minute
	launchGrace   = 10 * time.Second
	hostStopGrace = 30 * time.Second
)

// reconnectBackoff is the wait before each reconnection attempt.
func reconnectBackoff(attempt int) time.Duration {
	return min(time.Duration(1<<min(attempt, 4))*500*time.Millisecond, 5*time.Second)
}
