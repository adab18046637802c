package nix

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"syscall"

	"nixdeck/internal/tail"
)

// LocalRunner runs commands on this machine with os/exec.
type LocalRunner struct {
	// Env, when set, replaces the environment of every command (os.Environ() style).
	Env []string
}

// Run executes c and waits for it; ctx cancellation kills the process.
func (l LocalRunner) Run(ctx context.Context, c Cmd) error {
	if len(c.Argv) == 0 {
		return errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Stdin = c.Stdin
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
	err := cmd.Run()
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
