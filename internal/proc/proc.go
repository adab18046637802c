// Package proc holds nixdeck's one vocabulary for running a process, on
// this machine or on a host: the command (Cmd), what runs it (Runner), how
// it fails (ExitError, OutputLimitError, ErrConnectionLost) and how its
// argv is quoted for a shell. The transport (fleet/remote) implements
// Runner with an SSH session, nix/ with os/exec; nix builds the Cmds. It
// sits below both so that neither imports the other and no adapter
// translates between two sets of types.
package proc

import (
	"context"
	"errors"
	"io"

	"nixdeck/internal/limit"
)

// Cmd is one command to run, locally or on a host.
type Cmd struct {
	// Argv is the program and its arguments. Remote runners quote each
	// element for the remote shell, so no word splitting or expansion
	// happens there; Argv[0] must be a program (the remote shell execs it),
	// not a builtin or an environment assignment: use "env" or "sh -c".
	// No element may hold a NUL byte (see Check).
	Argv []string
	// Stdin feeds the command; nil means no input. Long path lists go here,
	// never on the command line (Linux caps one argument string at 128 KiB).
	Stdin io.Reader
	// Stdout and Stderr receive the command's output as it arrives; nil
	// discards it. Runners read both concurrently.
	Stdout, Stderr io.Writer
	// Privileged marks commands that need root (store imports, profile
	// changes, activation); remote runners prefix `sudo -n --` when the
	// host's sudo mode asks for it (auto: when the login user is not root;
	// always).
	Privileged bool
	// MaxOutput bounds what a host may send for the command, stdout and
	// stderr together, in bytes: remote runners stop the command past it
	// and return *OutputLimitError. 0 means DefaultMaxOutput; NoOutputLimit
	// (any negative value) is for output streamed to a log, never kept.
	// The local runner runs the operator's own programs and does not bound
	// them.
	MaxOutput int64
	// Dir, when set, is the directory of the operator's machine the
	// command runs in (a flake reference relative to it, see nix.FlakeRef);
	// empty means nixdeck's own. Only the local runner honours it: remote
	// runners refuse such a command, as the directory is not the host's.
	Dir string
	// Env, when set, adds "NAME=value" entries to the environment of a
	// command run on the operator's machine (NIX_SSHOPTS for the ssh that
	// Nix runs to reach a builder). Only the local runner honours it:
	// remote runners refuse such a command, as a host's sshd would drop
	// or, worse, interpret variables the operator meant for itself.
	Env []string
}

// DefaultMaxOutput bounds a remote command's output when Cmd.MaxOutput is 0.
const DefaultMaxOutput = limit.DefaultOutput

// NoOutputLimit as Cmd.MaxOutput lets a command send any amount of output.
const NoOutputLimit int64 = -1

// String renders the argv as an operator would type it, for logs and errors.
func (c Cmd) String() string { return Format(c.Argv) }

// Check reports why c cannot be run at all: an empty argv, or an argument
// holding a NUL byte (an error wrapping ErrNUL). Runners call it before
// anything starts, so such a command never half-runs.
func (c Cmd) Check() error {
	if len(c.Argv) == 0 {
		return errEmpty
	}
	return checkNUL(c.Argv)
}

// errEmpty is Check's error for a Cmd without argv.
var errEmpty = errors.New("empty command")

// Runner runs commands. Implementations call Cmd.Check first, return an
// *ExitError when the command ran and failed, an *OutputLimitError when it
// sent more than Cmd.MaxOutput, an error wrapping ErrConnectionLost when
// the transport died before the exit status arrived, and an error wrapping
// ctx.Err() when ctx ended first. Remote runners' errors name the host.
type Runner interface {
	Run(ctx context.Context, c Cmd) error
}
