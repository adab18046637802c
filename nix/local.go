package nix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"nixdeck/internal/tail"
)

// DefaultStopGrace is how long a cancelled local command has to exit after
// SIGTERM before it is killed. Nix needs the TERM: it stops its builders
// (which run in sessions of their own, out of reach of a signal to its
// process group) and releases its locks; a KILL would orphan them.
const DefaultStopGrace = 10 * time.Second

// LocalRunner runs commands on this machine with os/exec.
type LocalRunner struct {
	// Env, when set, replaces the environment of every command (os.Environ() style).
	Env []string
	// StopGrace, when positive, replaces DefaultStopGrace.
	StopGrace time.Duration
}

// Run executes c and waits for it. Each command runs in a process group of
// its own, so that the terminal's Ctrl-C reaches nixdeck alone and nixdeck
// decides how its children stop: when ctx ends, the whole group gets
// SIGTERM, then SIGKILL after the grace period, and whatever is left in the
// group once the command has exited is killed, so no child outlives it.
func (l LocalRunner) Run(ctx context.Context, c Cmd) error {
	if err := c.Check(); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGTERM) }
	// After the grace, Wait kills the leader and stops waiting for the
	// pipes (a grandchild may hold them open); the sweep below takes the rest.
	cmd.WaitDelay = DefaultStopGrace
	if l.StopGrace > 0 {
		cmd.WaitDelay = l.StopGrace
	}
	cmd.Dir = c.Dir
	if _, ok := c.Stdin.(*os.File); ok || c.Stdin == nil {
		cmd.Stdin = c.Stdin
	} else {
		// Feed any other reader ourselves, as the SSH client does: Wait
		// waits for os/exec's own copy from Stdin, and a pipe that nobody
		// writes or closes yet (a serve session's, see startServe) would
		// hold it for ever after the command exited, and its caller, who
		// waits for Run to learn that, with it.
		w, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		go func() {
			_, _ = io.Copy(w, c.Stdin)
			w.Close()
		}()
	}
	cmd.Stdout = c.Stdout
	errTail := tail.NewBuffer(4096)
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(c.Stderr, errTail)
	} else {
		cmd.Stderr = errTail
	}
	if l.Env != nil {
		cmd.Env = l.Env
	}
	if len(c.Env) > 0 {
		cmd.Env = append(slices.Clip(cmd.Environ()), c.Env...)
	}
	err := cmd.Run()
	if ctx.Err() != nil && cmd.Process != nil {
		// Group members still alive keep the group's id from being reused,
		// so this reaches only what the command left behind.
		_ = signalGroup(cmd.Process.Pid, syscall.SIGKILL)
		if err != nil {
			return fmt.Errorf("%s stopped: %w", c.Argv[0], ctx.Err())
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		x := &ExitError{Argv: c.Argv, Code: ee.ExitCode(), Stderr: errTail.String()}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			x.Code, x.Signal = -1, ws.Signal().String()
		}
		return x
	}
	return err
}

// signalGroup sends sig to the process group led by pid; a group that is
// already gone is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
