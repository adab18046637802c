package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Outcome classifies how an activation ended, from NixOS's exit codes.
type Outcome int

// Activation outcomes.
const (
	// OutcomeDone: exit 0, the system is active.
	OutcomeDone Outcome = iota
	// OutcomeRefused: exit 1, bad arguments or the switch lock was held;
	// nothing was activated and the profile is back where it was.
	OutcomeRefused
	// OutcomeActivationFailed: exit 2, an activation script failed; the new system runs anyway.
	OutcomeActivationFailed
	// OutcomeUnitsFailed: exit 4, switched, but some units failed.
	OutcomeUnitsFailed
	// OutcomeRebootRequired: exit 100, the change only takes effect after a reboot.
	OutcomeRebootRequired
	// OutcomeConnectionLost: the host could not be reached again; result unknown.
	OutcomeConnectionLost
	// OutcomeTimedOut: the activation exceeded its timeout and was killed.
	OutcomeTimedOut
	// OutcomeFailed: any other failure (other exit codes, profile update
	// failed, a magic rollback that failed: see ActivateResult.Cause).
	OutcomeFailed
	// OutcomeRolledBack: under magic rollback, the host went back to the
	// system that ran before (ActivateResult.Cause says why).
	OutcomeRolledBack
)

var outcomeNames = [...]string{"done", "refused", "activation failed", "units failed", "reboot required", "connection lost", "timed out", "failed", "rolled back"}

// String names the outcome for tables and logs.
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// MarshalText makes outcomes readable in JSON.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// OK reports whether the new configuration is in place as asked.
func (o Outcome) OK() bool { return o == OutcomeDone }

// outcomeOf maps switch-to-configuration's exit status.
func outcomeOf(code int) Outcome {
	switch code {
	case 0:
		return OutcomeDone
	case 1:
		return OutcomeRefused
	case 2:
		return OutcomeActivationFailed
	case 4:
		return OutcomeUnitsFailed
	case 100:
		return OutcomeRebootRequired
	}
	return OutcomeFailed
}

// follower streams a detached activation's output across reconnections.
type follower struct {
	req        ActivateRequest
	lines      *Lines
	offset     int64
	reconnects int
	runner     Runner
	lost       error
	// skip is a status that does not end the following (statusAwaiting,
	// once seen).
	skip string
	// used are the runners the activation was started and followed over:
	// never one to confirm over.
	used []Runner
}

// run follows until the activation records a status; on a lost connection
// it reconnects (with backoff, until actx ends) and resumes at offset.
func (f *follower) run(actx, ctx context.Context, r Runner) (string, error) {
	f.runner = r
	for attempt := 0; ; attempt++ {
		if f.lost == nil {
			status, err := f.follow(actx)
			if !errors.Is(err, ErrConnectionLost) {
				return status, err
			}
			f.lost = err
		}
		if f.req.Reconnect == nil {
			return "", f.lost
		}
		select {
		case <-actx.Done():
			return "", fmt.Errorf("%w; gave up reconnecting: %w", f.lost, actx.Err())
		case <-time.After(reconnectBackoff(attempt)):
		}
		nr, err := f.req.Reconnect(actx)
		if err != nil {
			continue
		}
		f.runner, f.lost = nr, nil
		f.used = append(f.used, nr)
		f.reconnects++
	}
}

// follow runs one follow command from the current offset.
func (f *follower) follow(ctx context.Context) (string, error) {
	var errb bytes.Buffer
	c := f.req.followCmd(f.offset, f.skip)
	c.Stdout, c.Stderr = f.output(), &errb
	if err := f.runner.Run(ctx, c); err != nil {
		return "", fmt.Errorf("follow activation: %w", scriptError{"follow", c.Argv, err})
	}
	if st, ok := statusLine(errb.String()); ok {
		return st, nil
	}
	return "", fmt.Errorf("follow activation: no status in %s", excerpt(errb.String()))
}

// output is where a command following the activation writes its output:
// to the lines, counted in the offset the next command resumes at.
func (f *follower) output() io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		f.offset += int64(len(p))
		return f.lines.Write(p)
	})
}

// statusLine finds the "status=…" line in a script's stderr.
func statusLine(stderr string) (string, bool) {
	for _, l := range strings.Split(stderr, "\n") {
		if st, ok := strings.CutPrefix(l, "status="); ok {
			return st, true
		}
	}
	return "", false
}

// writerFunc adapts a function to io.Writer.
type writerFunc func(p []byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }
