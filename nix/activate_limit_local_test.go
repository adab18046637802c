package nix_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/nix"
)

// The host enforces the activation timeout by itself: these tests stop
// waiting as soon as the activation has started, as a second Abort
// would, and then follow what the host records on its own.

// hangBody is a switch-to-configuration that hangs, its pid in $PIDFILE.
const hangBody = `echo $$ >"$PIDFILE"; exec sleep 600`

// abandon activates req, stopping to wait as soon as the activation has
// started, and checks that it had.
func abandon(t *testing.T, r nix.Runner, req nix.ActivateRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req.Stage = func(s nix.ActivateStage) {
		if s == nix.StageStarted {
			cancel()
		}
	}
	res, err := nix.Activate(ctx, r, req)
	if !res.Started || !errors.Is(err, context.Canceled) {
		t.Fatalf("Activate() = %+v, %v; want started, then stopped waiting", res, err)
	}
}

// hostStatus waits for the activation opID to record its status on the
// host, with the follow script (which polls there), and returns it.
func hostStatus(t *testing.T, r nix.Runner, opID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errb bytes.Buffer
	c := nix.Cmd{Argv: []string{"sh", "-c", nix.ActivateFollowScript, "sh", nix.NixdeckRunDir + "/" + opID, "0"}, Stdout: io.Discard, Stderr: &errb}
	if err := r.Run(ctx, c); err != nil {
		t.Fatalf("follow %s: %v: %s", opID, err, errb.String())
	}
	return strings.TrimPrefix(strings.TrimSpace(errb.String()), "status=")
}

// gone checks that the process whose pid is in pidFile has ended, and
// that the activation left no child or watchdog behind.
func gone(t *testing.T, pidFile, run string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || pid <= 0 || !testenv.WaitExit(pid, 0) {
		t.Errorf("the hung activation (pid %q, %v) still runs", b, err)
	}
	for _, f := range []string{"child", "watchdog"} {
		if _, err := os.Stat(filepath.Join(run, f)); err == nil {
			t.Errorf("%s left in the run directory", f)
		}
	}
}

func TestActivateLocalHostKillsAHang(t *testing.T) {
	needRoot(t)
	r, _, runDir := privateRun(t, "")
	pidFile := filepath.Join(t.TempDir(), "pid")
	sys := fakeSystem(t, strings.ReplaceAll(hangBody, "$PIDFILE", pidFile))
	id := opID(t)
	abandon(t, r, nix.ActivateRequest{Action: nix.Test, Path: sys, OpID: id, Timeout: 2 * time.Second})
	if st := hostStatus(t, r, id); st != "killed -" {
		t.Errorf("status %q, want killed -", st)
	}
	gone(t, pidFile, filepath.Join(runDir, id))
}

func TestActivateLocalHostRollsBackAHang(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := newMagicHost(t, strings.ReplaceAll(hangBody, "$PIDFILE", pidFile))
	id := opID(t)
	abandon(t, h.r, nix.ActivateRequest{Action: nix.Switch, Path: h.b, OpID: id, Timeout: 2 * time.Second, ConfirmTimeout: time.Minute,
		Confirm: func(context.Context) (nix.Runner, error) { return otherConn{h.r}, nil }})
	if st := hostStatus(t, h.r, id); st != "rolled-back 0 timeout" {
		t.Errorf("status %q, want rolled-back 0 timeout", st)
	}
	if current, profile := h.state(t); current != h.a || profile != "system-1-link" {
		t.Errorf("running %s, profile %s; want a, system-1-link", current, profile)
	}
	gone(t, pidFile, filepath.Join(h.runDir, id))
}

// A rollback that hangs too is killed at the limit again: the host's
// record says the rollback failed, and nothing is left running.
func TestActivateLocalHostKillsAHungRollback(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	h := newMagicHost(t, strings.ReplaceAll(hangBody, "$PIDFILE", pidFile))
	// What runs now (generation 2) hangs when switched back to.
	back := h.system(t, "system-c", strings.ReplaceAll(hangBody, "$PIDFILE", pidFile+".back"))
	h.sh(t, `nix-env -p `+nix.SystemProfile+` --set "$1" && ln -sfn "$1" /run/current-system`, back)
	id := opID(t)
	abandon(t, h.r, nix.ActivateRequest{Action: nix.Switch, Path: h.b, OpID: id, Timeout: 2 * time.Second, ConfirmTimeout: time.Minute,
		Confirm: func(context.Context) (nix.Runner, error) { return otherConn{h.r}, nil }})
	if st := hostStatus(t, h.r, id); st != "rolled-back 137 timeout" {
		t.Errorf("status %q, want rolled-back 137 timeout", st)
	}
	if _, profile := h.state(t); profile != "system-2-link" {
		t.Errorf("profile %s, want back on system-2-link", profile)
	}
	gone(t, pidFile, filepath.Join(h.runDir, id))
	gone(t, pidFile+".back", filepath.Join(h.runDir, id))
}
