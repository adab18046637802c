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

const sysPath = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05"

// activationLog is real switch-to-configuration output (exit 4 case).
const activationLog = `updating GRUB 2 menu...
activating the configuration...
setting up /etc...
reloading user units for root...
setting up tmpfiles
restarting the following units: lab-app.service
warning: the following units failed: lab-app.service
`

func TestActivate(t *testing.T) {
	req := ActivateRequest{Action: Switch, Path: sysPath, OpID: "op1"}
	dir := "/run/nixdeck/op1"
	launch := []string{"sh", "-c", activateLaunchScript, "sh", dir, sysPath, "switch", "", "nixdeck-op1", "", ""}
	// limited is launch with a time limit of a second.
	limited := append(slices.Clone(launch[:len(launch)-1]), "1")
	follow := func(off int) []string {
		return []string{"sh", "-c", activateFollowScript, "sh", dir, fmt.Sprint(off)}
	}
	lost := fmt.Errorf("web1: %w", ErrConnectionLost)
	tests := []struct {
		name       string
		req        func(r ActivateRequest, fresh *fakeRunner) ActivateRequest
		script     func(f, fresh *fakeRunner)
		want       Outcome
		code       int
		cause      string
		wantErr    string
		reconnects int
		logs       int
	}{
		{name: "exit 0 is done", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().out("activating the configuration...\n").errout("status=activate 0\n")
		}, want: OutcomeDone, code: 0, logs: 1},
		{name: "exit 1 is refused", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().out("Could not acquire lock\n").errout("status=activate 1\n")
		}, want: OutcomeRefused, code: 1, logs: 1},
		{name: "exit 2 is activation failed", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().out("Activation script snippet 'lab-fault' failed (1)\n").errout("status=activate 2\n")
		}, want: OutcomeActivationFailed, code: 2, logs: 1},
		{name: "exit 4 is units failed", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().out(activationLog).errout("status=activate 4\n")
		}, want: OutcomeUnitsFailed, code: 4, logs: 7},
		{name: "exit 100 is reboot required", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().errout("status=activate 100\n")
		}, want: OutcomeRebootRequired, code: 100},
		{name: "other codes are failures", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().errout("status=activate 3\n")
		}, want: OutcomeFailed, code: 3},
		{name: "a failed profile update activates nothing", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().out("error: opening lock file '/nix/var/nix/profiles/system.lock': Permission denied\n").errout("status=profile 1\n")
		}, want: OutcomeFailed, code: 1, wantErr: "setting the system profile failed", logs: 1},
		{name: "a start failure is an error", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv().errout("mkdir: cannot create directory '/run/nixdeck/op1': File exists\n").exit(1)
		}, want: OutcomeFailed, code: -1, wantErr: "File exists"},
		{name: "a dropped connection resumes at the byte offset on a fresh one",
			req: func(r ActivateRequest, fresh *fakeRunner) ActivateRequest {
				r.Reconnect = func(context.Context) (Runner, error) { return fresh, nil }
				return r
			},
			script: func(f, fresh *fakeRunner) {
				f.expect(launch...).priv()
				f.expect(follow(0)...).priv().out("updating GRUB 2 menu...\nactivat").fail(lost)
				fresh.expect(follow(31)...).priv().out("ing the configuration...\n").errout("status=activate 0\n")
			}, want: OutcomeDone, code: 0, reconnects: 1, logs: 2},
		{name: "a start cut off by a dropped connection is followed after reconnecting",
			req: func(r ActivateRequest, fresh *fakeRunner) ActivateRequest {
				r.Reconnect = func(context.Context) (Runner, error) { return fresh, nil }
				return r
			},
			script: func(f, fresh *fakeRunner) {
				f.expect(launch...).priv().fail(lost)
				fresh.expect(follow(0)...).priv().out("activating the configuration...\n").errout("status=activate 0\n")
			}, want: OutcomeDone, code: 0, reconnects: 1, logs: 1},
		{name: "a start that never happened is reported as unknown", script: func(f, _ *fakeRunner) {
			launchTimeout = 50 * time.Millisecond
			t.Cleanup(func() { launchTimeout = 2 * time.Minute })
			f.expect(launch...).priv().hang()
			f.expect(follow(0)...).priv().errout("status=gone\n")
		}, want: OutcomeConnectionLost, code: -1, wantErr: "run directory is gone"},
		{name: "without a way to reconnect the result is unknown", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().fail(lost)
		}, want: OutcomeConnectionLost, code: -1, wantErr: "connection lost"},
		{name: "a hang the host killed at its limit timed out",
			req: func(r ActivateRequest, _ *fakeRunner) ActivateRequest {
				r.Timeout = 50 * time.Millisecond
				return r
			},
			script: func(f, _ *fakeRunner) {
				f.expect(limited...).priv()
				f.expect(follow(0)...).priv().out("nixdeck: switch-to-configuration ran past 1s and was killed\n").errout("status=killed -\n")
			}, want: OutcomeTimedOut, code: -1, logs: 1},
		{name: "a hang the host did not stop is stopped by nixdeck",
			req: func(r ActivateRequest, _ *fakeRunner) ActivateRequest {
				r.Timeout = 50 * time.Millisecond
				hostStopGrace = 0
				t.Cleanup(func() { hostStopGrace = 30 * time.Second })
				return r
			},
			script: func(f, _ *fakeRunner) {
				f.expect(limited...).priv()
				f.expect(follow(0)...).priv().hang()
				f.expect("sh", "-c", activateKillScript, "sh", dir, "nixdeck-op1").priv()
			}, want: OutcomeTimedOut, code: -1, cause: "the host did not stop it at its limit; nixdeck did"},
		{name: "a host unreachable until the timeout is connection lost, not a hang",
			req: func(r ActivateRequest, _ *fakeRunner) ActivateRequest {
				r.Timeout = 50 * time.Millisecond
				r.Reconnect = func(context.Context) (Runner, error) { return nil, errors.New("web1: dial: connection refused") }
				return r
			},
			script: func(f, _ *fakeRunner) {
				hostStopGrace = 0
				t.Cleanup(func() { hostStopGrace = 30 * time.Second })
				f.expect(limited...).priv()
				f.expect(follow(0)...).priv().fail(lost)
			}, want: OutcomeConnectionLost, code: -1, wantErr: "gave up reconnecting"},
		{name: "the process dying without a status is reported", script: func(f, _ *fakeRunner) {
			f.expect(launch...).priv()
			f.expect(follow(0)...).priv().errout("status=vanished\n")
		}, want: OutcomeFailed, code: -1, wantErr: "without recording a status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, fresh := newFakeRunner(t), newFakeRunner(t)
			r := req
			if tt.req != nil {
				r = tt.req(r, fresh)
			}
			var logs []string
			r.Log = func(l string) { logs = append(logs, l) }
			tt.script(f, fresh)
			res, err := Activate(context.Background(), f, r)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Activate() error: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Activate() error = %v, want %q", err, tt.wantErr)
			}
			if res.Outcome != tt.want || res.ExitCode != tt.code || res.Reconnects != tt.reconnects || res.Cause != tt.cause {
				t.Errorf("Activate() = %+v (%s), want %s code %d reconnects %d", res, res.Outcome, tt.want, tt.code, tt.reconnects)
			}
			if len(logs) != tt.logs {
				t.Errorf("log lines %q, want %d", logs, tt.logs)
			}
		})
	}
}

func TestNewOpID(t *testing.T) {
	a, b := NewOpID(Switch), NewOpID(Switch)
	if a == b || !validOpID(a) || !strings.HasPrefix(a, "switch-") {
		t.Errorf("NewOpID() = %q, %q", a, b)
	}
}

func TestActivateRejectsBadRequests(t *testing.T) {
	for _, req := range []ActivateRequest{
		{Action: "reboot", Path: sysPath, OpID: "x"},
		{Action: Switch, Path: sysPath, OpID: "../../etc"},
		{Action: Switch, Path: "relative", OpID: "x"},
	} {
		if _, err := Activate(context.Background(), newFakeRunner(t), req); err == nil {
			t.Errorf("Activate(%+v) accepted", req)
		}
	}
}

func TestRollback(t *testing.T) {
	s, err := ParseHostState(hostStateNixOS)
	if err != nil {
		t.Fatal(err)
	}
	g, err := RollbackTarget(s, 0)
	if err != nil || g.Number != 41 {
		t.Fatalf("previous = %+v, %v; want generation 41", g, err)
	}
	if _, err := RollbackTarget(s, 7); err == nil {
		t.Error("rollback to a missing generation accepted")
	}
	f := newFakeRunner(t)
	dir := "/run/nixdeck/rb"
	f.expect("sh", "-c", activateLaunchScript, "sh", dir, g.Path, "switch", "41", "nixdeck-rb", "", "").priv()
	f.expect("sh", "-c", activateFollowScript, "sh", dir, "0").priv().errout("status=activate 0\n")
	res, err := Rollback(context.Background(), f, g, ActivateRequest{OpID: "rb"})
	if err != nil || res.Outcome != OutcomeDone {
		t.Fatalf("Rollback() = %+v, %v", res, err)
	}
}

func TestScriptErrorLeavesTheScriptOut(t *testing.T) {
	inner := &ExitError{Argv: []string{"sh", "-c", activateFollowScript, "sh", "/run/nixdeck/x", "0"}, Code: 1, Stderr: "stat: cannot statx '/run/nixdeck/x/out': No such file or directory\n"}
	err := fmt.Errorf("follow activation: %w", scriptError{name: "follow", err: fmt.Errorf("web1: %w", inner)})
	want := "follow activation: web1: follow script: exit status 1: stat: cannot statx '/run/nixdeck/x/out': No such file or directory"
	var ee *ExitError
	if err.Error() != want || !errors.As(err, &ee) {
		t.Errorf("error %q, want %q and the ExitError inside", err, want)
	}
}
