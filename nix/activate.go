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
	// Timeout bounds the whole activation (activation_timeout); 0 means
	// only ctx bounds it. A timed-out activation is killed: a hung one would
	// hold the switch lock and block every later deployment.
	Timeout time.Duration
	// Log receives the activation's output line by line. May be nil.
	Log func(line string)
	// Reconnect, when set, returns a runner on a fresh connection to the
	// host; Activate calls it (with backoff) after the connection dropped.
	Reconnect func(ctx context.Context) (Runner, error)
}

// ActivateResult is how an activation ended.
type ActivateResult struct {
	Outcome Outcome
	// ExitCode is switch-to-configuration's (or nix-env's) exit status; -1 if unknown.
	ExitCode int
	// Reconnects counts the fresh connections needed to read the result.
	Reconnects int
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
// learned (connection lost for good, cancelled) or starting failed.
func Activate(ctx context.Context, r Runner, req ActivateRequest) (ActivateResult, error) {
	res := ActivateResult{Outcome: OutcomeFailed, ExitCode: -1}
	switch req.Action {
	case Switch, Boot, Test, DryActivate:
	default:
		return res, fmt.Errorf("activate: unknown action %q", req.Action)
	}
	if !validOpID(req.OpID) || !strings.HasPrefix(req.Path, "/") {
		return res, fmt.Errorf("activate: bad operation id %q or system path %q", req.OpID, req.Path)
	}
	var errb bytes.Buffer
	launch := req.launchCmd()
	launch.Stderr = &errb
	lctx, lcancel := context.WithTimeout(ctx, launchTimeout)
	err := r.Run(lctx, launch)
	lcancel()
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return res, fmt.Errorf("start activation in %s: exit status %d: %s", req.dir(), ee.Code, proc.StderrTail(errb.String()))
	case err != nil && ctx.Err() != nil:
		return res, fmt.Errorf("start activation: %w", err)
	}
	// The activation timeout starts once the process runs, so a slow
	// start cannot eat it.
	actx, cancel := ctx, context.CancelFunc(func() {})
	if req.Timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, req.Timeout)
	}
	defer cancel()
	lines := LineWriter(func(l string) {
		if req.Log != nil {
			req.Log(l)
		}
	})
	defer lines.Flush()
	f := &follower{req: req, lines: lines}
	if errors.Is(err, ErrConnectionLost) {
		// The activation may run anyway: following it after reconnecting
		// finds out. (A start that merely took too long is followed on the
		// same connection.)
		f.lost = err
	}
	status, err := f.run(actx, ctx, r)
	res.Reconnects = f.reconnects
	switch {
	case err != nil && actx.Err() != nil && ctx.Err() == nil && f.lost != nil:
		// The host stayed unreachable until the timeout: nothing can be
		// stopped, and the activation may have finished well.
		res.Outcome = OutcomeConnectionLost
		return res, fmt.Errorf("activation result unknown: %w", err)
	case err != nil && actx.Err() != nil && ctx.Err() == nil:
		res.Outcome = OutcomeTimedOut
		kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer kcancel()
		if kerr := f.runner.Run(kctx, req.killCmd()); kerr != nil {
			return res, fmt.Errorf("activation timed out after %s; stopping it failed: %w", req.Timeout, scriptError{"stop", req.killCmd().Argv, kerr})
		}
		return res, nil
	case errors.Is(err, ErrConnectionLost):
		res.Outcome = OutcomeConnectionLost
		return res, err
	case err != nil:
		return res, err
	}
	return classify(res, status)
}

// classify turns the recorded status into an outcome.
func classify(res ActivateResult, status string) (ActivateResult, error) {
	kind, code, _ := strings.Cut(status, " ")
	n, convErr := strconv.Atoi(code)
	switch {
	case kind == "activate" && convErr == nil:
		res.ExitCode = n
		res.Outcome = outcomeOf(n)
		return res, nil
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
	return res, fmt.Errorf("the activation process ended without recording a status (%q)", status)
}

// launchTimeout bounds starting the detached activation (a variable so
// tests can shorten it).
var launchTimeout = 2 * time.Minute

// reconnectBackoff is the wait before each reconnection attempt.
func reconnectBackoff(attempt int) time.Duration {
	return min(time.Duration(1<<min(attempt, 4))*500*time.Millisecond, 5*time.Second)
}
