// Package nix knows Nix and NixOS: it builds argv for the Nix CLI
// (nix, nix-store, nix-env) and for NixOS's switch-to-configuration, runs
// them through a Runner (local exec or a remote SSH session) and parses what
// comes back. It never dials SSH itself and never imports Bubble Tea.
package nix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"nixdeck/internal/limit"
	"nixdeck/internal/tail"
)

// Cmd is one command to run, locally or on a host.
type Cmd struct {
	// Argv is the program and its arguments; remote runners quote each
	// element for the remote shell.
	Argv []string
	// Stdin feeds the command; nil means no input. Long path lists go here,
	// never on the command line (Linux caps one argument string at 128 KiB).
	Stdin io.Reader
	// Stdout and Stderr receive the command's output as it arrives; nil
	// discards it. Runners read both concurrently.
	Stdout, Stderr io.Writer
	// Privileged marks commands that need root (store imports, profile
	// changes, activation); remote runners prefix `sudo -n --` when the
	// login user is not root and the host's sudo mode asks for it.
	Privileged bool
	// MaxOutput bounds what a host may send for the command, stdout and
	// stderr together, in bytes: remote runners stop the command past it
	// and return *OutputLimitError. 0 means DefaultMaxOutput; NoOutputLimit
	// is for output streamed to a log, never kept. The local runner runs
	// the operator's own programs and does not bound them.
	MaxOutput int64
	// Dir, when set, is the directory of the operator's machine the
	// command runs in (a flake reference relative to it, see FlakeRef);
	// empty means nixdeck's own. Only LocalRunner honours it: remote
	// runners refuse such a command, as the directory is not the host's.
	Dir string
}

// DefaultMaxOutput bounds a remote command's output when Cmd.MaxOutput is 0.
const DefaultMaxOutput = limit.DefaultOutput

// NoOutputLimit as Cmd.MaxOutput lets a command send any amount of output.
const NoOutputLimit int64 = -1

// String renders the argv as an operator would type it, for logs and errors.
func (c Cmd) String() string { return ShellJoin(c.Argv) }

// Runner runs commands. Implementations return an *ExitError when the
// command ran and failed, and an error wrapping ErrConnectionLost when the
// transport died before the exit status arrived.
type Runner interface {
	Run(ctx context.Context, c Cmd) error
}

// ErrConnectionLost marks errors where the command's fate is unknown because
// the connection to the host went away.
var ErrConnectionLost = errors.New("connection lost")

// ExitError reports a command that ran and did not exit 0.
type ExitError struct {
	// Argv is the command that failed.
	Argv []string
	// Code is the exit status; -1 when the command died of a signal.
	Code int
	// Signal names the signal that killed the command ("KILL"), if any.
	Signal string
	// Stderr holds the last lines the command wrote to stderr, if the runner kept them.
	Stderr string
}

// Error renders "argv: exit status N: stderr", with at most the last
// maxErrorLines lines of stderr and maxErrorBytes of them: a host's stderr
// must not turn one error into pages.
func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", commandLine(e.Argv))
	if e.Signal != "" {
		fmt.Fprintf(&b, "killed by signal %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exit status %d", e.Code)
	}
	if s := stderrTail(e.Stderr); s != "" {
		fmt.Fprintf(&b, ": %s", s)
	}
	return b.String()
}

const (
	// maxErrorLines and maxErrorBytes bound the stderr an error quotes.
	maxErrorLines = 5
	maxErrorBytes = 1024
)

// stderrTail is the end of a command's stderr for an error message: the
// last maxErrorLines non-blank lines, cut to their last maxErrorBytes.
func stderrTail(s string) string {
	s = tail.LastLines(s, maxErrorLines)
	if len(s) > maxErrorBytes {
		s = "…" + strings.ToValidUTF8(s[len(s)-maxErrorBytes:], "")
	}
	return strings.TrimSpace(s)
}

// OutputLimitError reports a command stopped because it sent more output
// than its Cmd.MaxOutput allows: what it sent is incomplete.
type OutputLimitError struct {
	// Host is the node that sent it ("" when the runner does not know).
	Host string
	// Argv is the command.
	Argv []string
	// Limit is the bound it exceeded, in bytes.
	Limit int64
}

// Error renders "web01 sent more than 1 MiB of output for argv".
func (e *OutputLimitError) Error() string {
	if e.Host == "" {
		return fmt.Sprintf("%s: sent more than %s of output", ShellJoin(e.Argv), limit.Text(e.Limit))
	}
	return fmt.Sprintf("%s sent more than %s of output for %s", e.Host, limit.Text(e.Limit), ShellJoin(e.Argv))
}

// ExitCode returns the command's exit status (-1 when killed by a signal).
func (e *ExitError) ExitCode() int { return e.Code }

// commandLine renders argv for a message. A script run with `sh -c` is
// left out: it is nixdeck's own, dozens of lines long, and would bury
// what went wrong (callers name the step; errors.As still finds Argv).
func commandLine(argv []string) string {
	if len(argv) >= 3 && argv[1] == "-c" && (argv[0] == "sh" || argv[0] == "bash") {
		return strings.TrimSpace(ShellJoin(argv[:2]) + " '<script>' " + ShellJoin(argv[3:]))
	}
	return ShellJoin(argv)
}

// ShellJoin quotes argv for a POSIX shell: plain words stay as they are,
// anything else is single-quoted.
func ShellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// ShellQuote quotes one word for a POSIX shell.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@+,%^", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
