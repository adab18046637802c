package proc

import (
	"errors"
	"fmt"
	"strings"

	"nixdeck/internal/limit"
	"nixdeck/internal/tail"
)

// ErrConnectionLost marks errors where a command's fate is unknown because
// the connection to the host died (keepalives unanswered, TCP reset, a jump
// host gone) before the exit status arrived.
var ErrConnectionLost = errors.New("connection lost")

// ExitError reports a command that ran and did not exit 0.
type ExitError struct {
	// Host is the node the command ran on; "" for a local command.
	Host string
	// Argv is the command as requested (without any sudo prefix).
	Argv []string
	// Code is the exit status; -1 when the command died of a signal.
	Code int
	// Signal names the signal that killed the command ("TERM", "KILL"), if any.
	Signal string
	// Stderr holds the last few KiB the command wrote to stderr, if the
	// runner kept them.
	Stderr string
}

// Error renders "host: argv: exit status N: stderr", with at most the last
// maxErrorLines lines of stderr and maxErrorBytes of them: a host's stderr
// must not turn one error into pages.
func (e *ExitError) Error() string {
	var b strings.Builder
	if e.Host != "" {
		fmt.Fprintf(&b, "%s: ", e.Host)
	}
	fmt.Fprintf(&b, "%s: ", commandLine(e.Argv))
	if e.Signal != "" {
		fmt.Fprintf(&b, "killed by signal %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exit status %d", e.Code)
	}
	if s := StderrTail(e.Stderr); s != "" {
		fmt.Fprintf(&b, ": %s", s)
	}
	return b.String()
}

// ExitCode returns the command's exit status (-1 when killed by a signal).
func (e *ExitError) ExitCode() int { return e.Code }

const (
	// maxErrorLines and maxErrorBytes bound the stderr an error quotes.
	maxErrorLines = 5
	maxErrorBytes = 1024
)

// StderrTail is the end of a command's stderr for an error message: the
// last few non-blank lines, cut to their last KiB.
func StderrTail(s string) string {
	s = tail.LastLines(s, maxErrorLines)
	if len(s) > maxErrorBytes {
		s = "…" + strings.ToValidUTF8(s[len(s)-maxErrorBytes:], "")
	}
	return strings.TrimSpace(s)
}

// commandLine renders argv for a message. A script run with `sh -c` is
// left out: it is nixdeck's own, dozens of lines long, and would bury
// what went wrong (callers name the step; errors.As still finds Argv).
func commandLine(argv []string) string {
	if len(argv) >= 3 && argv[1] == "-c" && (argv[0] == "sh" || argv[0] == "bash") {
		return strings.TrimSpace(Format(argv[:2]) + " '<script>' " + Format(argv[3:]))
	}
	return Format(argv)
}

// OutputLimitError reports a command stopped because it sent more output
// (stdout and stderr together) than its Cmd.MaxOutput allows: what it sent
// is incomplete, so the caller must not use it.
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
		return fmt.Sprintf("%s: sent more than %s of output", Format(e.Argv), limit.Text(e.Limit))
	}
	return fmt.Sprintf("%s sent more than %s of output for %s", e.Host, limit.Text(e.Limit), Format(e.Argv))
}
