package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Magic rollback, nixdeck's side. The host's run script (activate_run.go)
// decides: after the new system runs it waits for a confirmation file and
// switches back by itself without one. nixdeck writes that file only over
// a connection it dials after the host reported the new system running,
// never the one it activated over: an activation that broke SSH (sshd
// gone, keys, firewall) cannot be confirmed, so the host rolls back. And
// nixdeck reports what the host recorded, never what it expects: success
// only after "confirmed 0" (deploy-rs #214 reported success while the
// host was rolling back).

// Causes of a magic rollback, for ActivateResult.Cause.
const (
	// CauseTimedOut: the activation ran past its timeout and was killed.
	CauseTimedOut = "activation timed out"
	// CauseNoSSH: no new connection could confirm the activation before
	// the deadline.
	CauseNoSSH = "no SSH after activation"
	// CauseNotConfirmed: the confirmation was sent but reached the host
	// after its deadline.
	CauseNotConfirmed = "not confirmed in time"
)

// defaultRollbackWait bounds the wait for a rollback's record when
// ActivateRequest.Timeout does not.
const defaultRollbackWait = 10 * time.Minute

// errSameConnection is a Confirm that handed back a runner the activation
// was started or followed over.
var errSameConnection = errors.New("Confirm returned a connection the activation already used; a confirmation must come over a new one")

// confirm runs once the host reports the new system running and waiting:
// it confirms over a new connection (retrying until the deadline), which
// answers with the host's decision when the confirmation made it;
// otherwise it follows the host to its decision and reports that.
func (f *follower) confirm(ctx context.Context, res ActivateResult) (ActivateResult, error) {
	res.ExitCode = 0
	deadline := time.Now().Add(f.req.ConfirmTimeout)
	var status string
	status, res.ConfirmErr = f.sendConfirm(ctx, deadline)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("stopped while confirming the activation (the host rolls back by itself unless confirmed): %w", err)
	}
	cause := CauseNotConfirmed
	if res.ConfirmErr != nil {
		cause = CauseNoSSH
	}
	if res.ConfirmErr == nil && status != statusAwaiting {
		// The host's decision, read by the confirmation itself.
		return classify(res, status, true, cause)
	}
	// The host decides by its deadline at the latest (it started counting
	// before this side did); a rollback then runs, bounded as an
	// activation is.
	wait := f.req.Timeout
	if wait <= 0 {
		wait = defaultRollbackWait
	}
	fctx, cancel := context.WithDeadline(ctx, deadline.Add(wait))
	defer cancel()
	f.skip = statusAwaiting
	status, err := f.run(fctx, ctx, f.runner)
	switch {
	case err != nil && ctx.Err() != nil:
		return res, err
	case err != nil && res.ConfirmErr != nil:
		// Never confirmed: the host rolls back by itself (unless it is
		// gone, which nothing here could tell apart).
		res.Outcome, res.Cause = OutcomeRolledBack, CauseNoSSH+" (the host's own record could not be read)"
		return res, nil
	case err != nil:
		res.Outcome = OutcomeConnectionLost
		return res, fmt.Errorf("the activation was confirmed, but the host's decision could not be read: %w", err)
	}
	return classify(res, status, true, cause)
}

// sendConfirm confirms over a new connection from req.Confirm, retrying
// with backoff until deadline; it returns the status the host answered
// with, or the last failure.
func (f *follower) sendConfirm(ctx context.Context, deadline time.Time) (string, error) {
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for attempt := 0; ; attempt++ {
		status, err := f.confirmOnce(cctx)
		if err == nil {
			return status, nil
		}
		t := time.NewTimer(reconnectBackoff(attempt))
		select {
		case <-cctx.Done():
			t.Stop()
			return "", err
		case <-t.C:
		}
	}
}

// confirmOnce dials a new connection and confirms over it; the answer
// carries the output since the follower's offset and the host's status.
func (f *follower) confirmOnce(ctx context.Context) (string, error) {
	nr, err := f.req.Confirm(ctx)
	if err != nil {
		return "", fmt.Errorf("connect to confirm: %w", err)
	}
	for _, u := range f.used {
		if sameRunner(nr, u) {
			return "", errSameConnection
		}
	}
	var errb bytes.Buffer
	c := f.req.confirmCmd(f.offset)
	c.Stdout, c.Stderr = f.output(), &errb
	if err := nr.Run(ctx, c); err != nil {
		return "", fmt.Errorf("confirm: %w", scriptError{"confirm", c.Argv, err})
	}
	status, ok := statusLine(errb.String())
	if !ok {
		return "", fmt.Errorf("confirm: no status in %s", excerpt(errb.String()))
	}
	return status, nil
}

// sameRunner reports whether a and b are the same runner; runners of a
// type that cannot be compared are taken as different (comparing them
// would panic).
func sameRunner(a, b Runner) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta != nil && ta.Comparable() && a == b
}

// rolledBack classifies the host's record of a rollback: kind
// rolled-back or rollback-profile, n its exit status, why the host's
// reason (timeout, unconfirmed); cause is the client's account of an
// unconfirmed one.
func rolledBack(res ActivateResult, kind string, n int, why, cause string) ActivateResult {
	res.Cause = CauseTimedOut
	if why == "unconfirmed" {
		res.Cause = cause
		if cause == "" {
			res.Cause = CauseNotConfirmed
		}
	}
	switch {
	case kind == "rollback-profile":
		res.Outcome = OutcomeFailed
		res.Cause += fmt.Sprintf("; putting the system profile back failed (exit %d): the new system is still active", n)
	case n == 0:
		res.Outcome = OutcomeRolledBack
	case outcomeOf(n) == OutcomeActivationFailed || outcomeOf(n) == OutcomeUnitsFailed || outcomeOf(n) == OutcomeRebootRequired:
		// The previous system runs, with the trouble the exit names.
		res.Outcome = OutcomeRolledBack
		res.Cause += fmt.Sprintf("; the previous system's switch-to-configuration ended with %s (exit %d)", outcomeOf(n), n)
	default:
		res.Outcome = OutcomeFailed
		res.Cause += fmt.Sprintf("; rolling back failed (switch-to-configuration exit %d)", n)
	}
	return res
}
