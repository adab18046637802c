package fleet

import (
	"context"
	"errors"
	"slices"
	"time"

	"nixdeck/internal/proc"
	"nixdeck/nix"
)

// commandRunner is a nix.Runner that reports every command it runs for
// an operation, on a host or on this machine: CommandStarted before,
// CommandEvent after, so the console can show what a host waits on and
// the exact command that failed.
type commandRunner struct {
	r     nix.Runner
	op    *op
	host  string // "" for the operation's own commands (the build)
	local bool
	// builder names the builder the commands run on ("builder:big"):
	// the operation's commands, told apart from this machine's.
	builder string
}

// Run implements nix.Runner.
func (c commandRunner) Run(ctx context.Context, cmd nix.Cmd) error {
	// A copy: the caller may reuse its slice, an event is kept. Events
	// reach logs, history and --json: a secret on the command line (a
	// cache's signing key) is redacted there, and runs as given.
	argv := slices.Clone(proc.Redact(cmd.Argv))
	c.op.s.emit(CommandStarted{EventBase: c.op.base(c.host), Argv: argv, Privileged: cmd.Privileged, Local: c.local,
		Builder: c.builder})
	start := time.Now()
	err := c.r.Run(ctx, cmd)
	c.op.s.emit(CommandEvent{EventBase: c.op.base(c.host), Argv: argv, Privileged: cmd.Privileged, Local: c.local,
		Builder: c.builder, Exit: exitStatus(err), Duration: time.Since(start), Err: proc.HideSecrets(err, cmd.Argv)})
	return err
}

// exitStatus is 0 for success, the status of a command that exited,
// else -1 (killed by a signal, or it never reported one).
func exitStatus(err error) int {
	var ee *nix.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.Signal == "":
		return ee.Code
	}
	return -1
}
