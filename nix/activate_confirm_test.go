package nix

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestActivateMagicRollback(t *testing.T) {
	dir := "/run/nixdeck/op1"
	launch := []string{"sh", "-c", activateLaunchScript, "sh", dir, sysPath, "switch", "", "nixdeck-op1", "30", ""}
	follow := func(off int, skip ...string) []string {
		return append([]string{"sh", "-c", activateFollowScript, "sh", dir, fmt.Sprint(off)}, skip...)
	}
	confirm := []string{"sh", "-c", activateConfirmScript, "sh", dir, "32"}
	const activated = "activating the configuration...\n" // 32 bytes
	lost := fmt.Errorf("web1: %w", ErrConnectionLost)
	refused := errors.New("web1: dial tcp 127.0.0.1:22: connect: connection refused")
	// awaiting scripts the activation up to its wait for the confirmation.
	awaiting := func(f *fakeRunner) {
		f.expect(launch...).priv()
		f.expect(follow(0)...).priv().out(activated).errout("status=awaiting 0\n")
	}
	// killed scripts an activation that hangs until its limit (a
	// second), where the host kills it and rolls back by itself: the
	// returned call is the following, to be told what the host recorded.
	killed := func(f *fakeRunner) *fakeCall {
		f.expect(append(slices.Clone(launch[:len(launch)-1]), "1")...).priv()
		return f.expect(follow(0)...).priv().out("nixdeck: switch-to-configuration ran past 1s and was killed\n")
	}
	tests := []struct {
		name string
		// confirmTimeout replaces 30 s (the launch argument stays: the
		// scripts here are the fake's).
		confirmTimeout, timeout time.Duration
		// dial is Confirm: it gets the activation's runner, the fresh one
		// and the attempt number.
		dial        func(f, fresh *fakeRunner, attempt int) (Runner, error)
		script      func(f, fresh *fakeRunner)
		want        Outcome
		cause       string
		code        int
		confirmed   bool
		confirmErr  string
		wantErr     string
		reconnect   bool
		minAttempts int
	}{
		{name: "a confirmation over a new connection is done, as its answer says",
			script: func(f, fresh *fakeRunner) {
				awaiting(f)
				fresh.expect(confirm...).priv().out("nixdeck: confirmed\n").errout("status=confirmed 0\n")
			}, want: OutcomeDone, code: 0, confirmed: true, minAttempts: 1},
		{name: "a confirmation that lost its answer is read from the host's record",
			confirmTimeout: 50 * time.Millisecond,
			script: func(f, fresh *fakeRunner) {
				awaiting(f)
				fresh.expect(confirm...).priv().fail(lost)
				f.expect(follow(32, statusAwaiting)...).priv().errout("status=confirmed 0\n")
			}, want: OutcomeDone, code: 0, confirmed: true, confirmErr: "connection lost", minAttempts: 1},
		{name: "a host that cannot be reached again rolls back: no SSH",
			confirmTimeout: 50 * time.Millisecond,
			dial:           func(_, _ *fakeRunner, _ int) (Runner, error) { return nil, refused },
			script: func(f, _ *fakeRunner) {
				awaiting(f)
				f.expect(follow(32, statusAwaiting)...).priv().errout("status=rolled-back 0 unconfirmed\n")
			}, want: OutcomeRolledBack, cause: CauseNoSSH, code: 0, confirmErr: "connection refused", minAttempts: 1},
		{name: "the activation's own connection is never used to confirm",
			confirmTimeout: 50 * time.Millisecond,
			dial:           func(f, _ *fakeRunner, _ int) (Runner, error) { return f, nil },
			script: func(f, _ *fakeRunner) {
				awaiting(f)
				f.expect(follow(32, statusAwaiting)...).priv().errout("status=rolled-back 0 unconfirmed\n")
			}, want: OutcomeRolledBack, cause: CauseNoSSH, code: 0, confirmErr: "already used", minAttempts: 1},
		{name: "nor the one it reconnected over to follow",
			confirmTimeout: 50 * time.Millisecond, reconnect: true,
			dial: func(_, fresh *fakeRunner, _ int) (Runner, error) { return fresh, nil },
			script: func(f, fresh *fakeRunner) {
				f.expect(launch...).priv()
				f.expect(follow(0)...).priv().out(activated).fail(lost)
				fresh.expect(follow(32)...).priv().errout("status=awaiting 0\n")
				fresh.expect(follow(32, statusAwaiting)...).priv().errout("status=rolled-back 0 unconfirmed\n")
			}, want: OutcomeRolledBack, cause: CauseNoSSH, code: 0, confirmErr: "already used", minAttempts: 1},
		{name: "a failed dial is retried until one gets through",
			dial: func(_, fresh *fakeRunner, attempt int) (Runner, error) {
				if attempt == 0 {
					return nil, refused
				}
				return fresh, nil
			},
			script: func(f, fresh *fakeRunner) {
				awaiting(f)
				fresh.expect(confirm...).priv().errout("status=confirmed 0\n")
			}, want: OutcomeDone, code: 0, confirmed: true, minAttempts: 2},
		{name: "a confirmation the host got too late is a rollback",
			script: func(f, fresh *fakeRunner) {
				awaiting(f)
				fresh.expect(confirm...).priv().errout("status=rolled-back 0 unconfirmed\n")
			}, want: OutcomeRolledBack, cause: CauseNotConfirmed, code: 0, minAttempts: 1},
		{name: "a confirmation that finds the host rolling back follows it",
			script: func(f, fresh *fakeRunner) {
				awaiting(f)
				fresh.expect(confirm...).priv().out("nixdeck: rolling back\n").errout("status=awaiting 0\n")
				f.expect(follow(54, statusAwaiting)...).priv().errout("status=rolled-back 0 unconfirmed\n")
			}, want: OutcomeRolledBack, cause: CauseNotConfirmed, code: 0, minAttempts: 1},
		{name: "an exit 0 recorded without a confirmation is not success (deploy-rs #214)",
			script: func(f, _ *fakeRunner) {
				f.expect(launch...).priv()
				f.expect(follow(0)...).priv().errout("status=activate 0\n")
			}, want: OutcomeFailed, code: 0, wantErr: "without a confirmation"},
		{name: "a failed activation is not confirmed, and not rolled back",
			script: func(f, _ *fakeRunner) {
				f.expect(launch...).priv()
				f.expect(follow(0)...).priv().errout("status=activate 4\n")
			}, want: OutcomeUnitsFailed, code: 4},
		{name: "never confirmed and never read again is still no success",
			confirmTimeout: 50 * time.Millisecond,
			dial:           func(_, _ *fakeRunner, _ int) (Runner, error) { return nil, refused },
			script: func(f, _ *fakeRunner) {
				awaiting(f)
				f.expect(follow(32, statusAwaiting)...).priv().fail(lost)
			}, want: OutcomeRolledBack, cause: CauseNoSSH + " (the host's own record could not be read)", code: 0, confirmErr: "refused", minAttempts: 1},
		{name: "a decision never read again is unknown, not done",
			script: func(f, fresh *fakeRunner) {
				awaiting(f)
				fresh.expect(confirm...).priv().errout("status=awaiting 0\n")
				f.expect(follow(32, statusAwaiting)...).priv().fail(lost)
			}, want: OutcomeConnectionLost, code: 0, wantErr: "decision could not be read", minAttempts: 1},
		{name: "a timed-out activation is killed and rolled back by the host",
			timeout: 50 * time.Millisecond,
			script: func(f, _ *fakeRunner) {
				killed(f).errout("status=rolled-back 0 timeout\n")
			}, want: OutcomeRolledBack, cause: CauseTimedOut, code: -1},
		{name: "a rollback the host killed at its limit failed",
			timeout: 50 * time.Millisecond,
			script: func(f, _ *fakeRunner) {
				killed(f).errout("status=rolled-back 137 timeout\n")
			}, want: OutcomeFailed, cause: CauseTimedOut + "; rolling back failed (switch-to-configuration exit 137)", code: -1},
		{name: "an activation the host did not stop is stopped by nixdeck",
			timeout: 50 * time.Millisecond,
			script: func(f, _ *fakeRunner) {
				hostStopGrace = 0
				t.Cleanup(func() { hostStopGrace = 30 * time.Second })
				killed(f).hang()
				f.expect("sh", "-c", activateKillScript, "sh", dir, "nixdeck-op1").priv()
			}, want: OutcomeTimedOut, cause: "the host did not stop it at its limit; nixdeck did", code: -1},
		{name: "a rollback refused by switch-to-configuration failed",
			confirmTimeout: 50 * time.Millisecond,
			dial:           func(_, _ *fakeRunner, _ int) (Runner, error) { return nil, refused },
			script: func(f, _ *fakeRunner) {
				awaiting(f)
				f.expect(follow(32, statusAwaiting)...).priv().errout("status=rolled-back 1 unconfirmed\n")
			}, want: OutcomeFailed, cause: CauseNoSSH + "; rolling back failed (switch-to-configuration exit 1)", code: 0, confirmErr: "refused", minAttempts: 1},
		{name: "a rollback whose units failed is back, and says so",
			timeout: 50 * time.Millisecond,
			script: func(f, _ *fakeRunner) {
				killed(f).errout("status=rolled-back 4 timeout\n")
			}, want: OutcomeRolledBack, cause: CauseTimedOut + "; the previous system's switch-to-configuration ended with units failed (exit 4)", code: -1},
		{name: "a profile that cannot be put back leaves the new system",
			timeout: 50 * time.Millisecond,
			script: func(f, _ *fakeRunner) {
				killed(f).errout("status=rollback-profile 1 timeout\n")
			}, want: OutcomeFailed, cause: CauseTimedOut + "; putting the system profile back failed (exit 1): the new system is still active", code: -1},
		{name: "nothing to roll back to changes nothing",
			script: func(f, _ *fakeRunner) {
				f.expect(launch...).priv()
				f.expect(follow(0)...).priv().errout("status=noprevious -\n")
			}, want: OutcomeFailed, code: -1, wantErr: "no running system"},
		{name: "a status the script never writes is not taken",
			script: func(f, _ *fakeRunner) {
				f.expect(launch...).priv()
				f.expect(follow(0)...).priv().errout("status=rolled-back 0 \x1b[2J\n")
			}, want: OutcomeFailed, code: -1, wantErr: `"rolled-back 0 \x1b[2J"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fresh := newFakeRunner(t), newFakeRunner(t)
			attempts := 0
			req := ActivateRequest{Action: Switch, Path: sysPath, OpID: "op1", ConfirmTimeout: 30 * time.Second, Timeout: tt.timeout,
				Confirm: func(context.Context) (Runner, error) {
					attempts++
					if tt.dial != nil {
						return tt.dial(f, fresh, attempts-1)
					}
					return fresh, nil
				}}
			if tt.reconnect {
				req.Reconnect = func(context.Context) (Runner, error) { return fresh, nil }
			}
			tt.script(f, fresh)
			if tt.confirmTimeout > 0 {
				req.ConfirmTimeout = tt.confirmTimeout
				// The launch argument is rounded up to a second.
				argv := slices.Clone(f.calls[0].argv)
				argv[len(argv)-2] = "1"
				f.calls[0].argv = argv
			}
			res, err := Activate(context.Background(), f, req)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Activate() error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Activate() error = %v, want %q", err, tt.wantErr)
			}
			if res.Outcome != tt.want || res.Cause != tt.cause || res.ExitCode != tt.code || res.Confirmed != tt.confirmed {
				t.Errorf("Activate() = %+v (%s), want %s, cause %q, code %d, confirmed %v", res, res.Outcome, tt.want, tt.cause, tt.code, tt.confirmed)
			}
			if tt.confirmErr == "" && res.ConfirmErr != nil || tt.confirmErr != "" && (res.ConfirmErr == nil || !strings.Contains(res.ConfirmErr.Error(), tt.confirmErr)) {
				t.Errorf("ConfirmErr = %v, want %q", res.ConfirmErr, tt.confirmErr)
			}
			if attempts < tt.minAttempts || tt.minAttempts == 0 && attempts != 0 {
				t.Errorf("%d confirmation attempts, want at least %d", attempts, tt.minAttempts)
			}
		})
	}
}

func TestActivateMagicOnlyWhereLive(t *testing.T) {
	if _, err := Activate(context.Background(), newFakeRunner(t), ActivateRequest{Action: Switch, Path: sysPath, OpID: "op1", ConfirmTimeout: time.Second}); err == nil || !strings.Contains(err.Error(), "needs Confirm") {
		t.Errorf("magic rollback without Confirm: %v", err)
	}
	// boot changes nothing live: no confirmation, whatever the timeout.
	f := newFakeRunner(t)
	dir := "/run/nixdeck/op1"
	f.expect("sh", "-c", activateLaunchScript, "sh", dir, sysPath, "boot", "", "nixdeck-op1", "", "").priv()
	f.expect("sh", "-c", activateFollowScript, "sh", dir, "0").priv().errout("status=activate 0\n")
	res, err := Activate(context.Background(), f, ActivateRequest{Action: Boot, Path: sysPath, OpID: "op1", ConfirmTimeout: time.Minute})
	if err != nil || res.Outcome != OutcomeDone {
		t.Errorf("boot under a confirm timeout = %+v, %v", res, err)
	}
}

func TestSameRunner(t *testing.T) {
	a, b := newFakeRunner(t), newFakeRunner(t)
	fn := runnerFunc(func(context.Context, Cmd) error { return nil })
	if !sameRunner(a, a) || sameRunner(a, b) || sameRunner(fn, fn) || sameRunner(a, fn) || sameRunner(LocalRunner{}, a) {
		t.Error("sameRunner is wrong")
	}
}
