package remote

import (
	"errors"
	"fmt"
	"strings"

	"nixdeck/internal/limit"
)

// ErrConnectionLost marks errors where a command's fate is unknown because
// the connection to the host died (keepalives unanswered, TCP reset, a jump
// host gone) before the exit status arrived.
var ErrConnectionLost = errors.New("connection lost")

// Error is a transport failure on one host: the node name, the address
// dialled, what was being done and why it failed. It prints as
// "web01 (127.0.0.1:2201): dial: connection refused".
type Error struct {
	// Name is the node name (Target.Name).
	Name string
	// Addr is the host:port dialled, after ~/.ssh/config resolution.
	Addr string
	// Op is the step that failed: "dial", "handshake", "auth", "session", ...
	Op string
	// Err is the cause.
	Err error
}

// Error renders "name (addr): op: cause".
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s: %v", hostLabel(e.Name, e.Addr), e.Op, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// hostLabel renders "name (addr)", or just one of them when the other is
// empty or the same.
func hostLabel(name, addr string) string {
	switch {
	case name == "":
		return addr
	case addr == "" || addr == name:
		return name
	}
	return name + " (" + addr + ")"
}

// ExitError reports a remote command that ran and did not exit 0.
type ExitError struct {
	// Name is the node the command ran on.
	Name string
	// Argv is the command as requested (without any sudo prefix).
	Argv []string
	// Code is the exit status; -1 when the command died of a signal.
	Code int
	// Signal names the signal that killed the command ("TERM", "KILL"), if any.
	Signal string
	// Stderr holds the last few KiB the command wrote to stderr.
	Stderr string
}

// Error renders "name: argv: exit status N: last stderr line".
func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: ", e.Name, shellJoin(e.Argv))
	if e.Signal != "" {
		fmt.Fprintf(&b, "killed by signal %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exit status %d", e.Code)
	}
	if s := lastLine(e.Stderr); s != "" {
		fmt.Fprintf(&b, ": %s", s)
	}
	return b.String()
}

// OutputLimitError reports a command stopped because it sent more output
// (stdout and stderr together) than its Cmd.MaxOutput allows: what it
// sent is incomplete, so the caller must not use it.
type OutputLimitError struct {
	// Name is the node the command ran on.
	Name string
	// Argv is the command as requested.
	Argv []string
	// Limit is the bound it exceeded, in bytes.
	Limit int64
}

// Error renders "web01 sent more than 1 MiB of output for argv".
func (e *OutputLimitError) Error() string {
	return fmt.Sprintf("%s sent more than %s of output for %s", e.Name, limit.Text(e.Limit), shellJoin(e.Argv))
}

// SudoError reports that sudo -n refused to run a privileged command
// because it wanted a password (or a terminal to ask for one).
type SudoError struct {
	// Name is the node; Addr the host:port; User the login user.
	Name, Addr, User string
	// Argv is the privileged command that was refused.
	Argv []string
	// Message is sudo's own complaint, e.g. "sudo: a password is required".
	Message string
}

// Error says which host and user sudo refused, and how to fix it.
func (e *SudoError) Error() string {
	return fmt.Sprintf("%s: sudo needs a password for user %q (%s) to run %s; "+
		"allow it passwordless sudo (NOPASSWD), log in as root, or set sudo: never",
		hostLabel(e.Name, e.Addr), e.User, e.Message, shellJoin(e.Argv))
}

// sudoPasswordMessages are what sudo -n prints when it would have to prompt.
var sudoPasswordMessages = []string{
	"sudo: a password is required",
	"sudo: a terminal is required",
}

// sudoComplaint returns sudo's password complaint found in stderr, or "".
func sudoComplaint(stderr string) string {
	for _, m := range sudoPasswordMessages {
		if strings.Contains(stderr, m) {
			return m
		}
	}
	return ""
}

// maxErrorLine bounds the stderr line an ExitError quotes.
const maxErrorLine = 512

// lastLine returns the last non-empty line of s, trimmed and cut to its
// last maxErrorLine bytes: a host's stderr must not make an error a page.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	if len(s) > maxErrorLine {
		s = "…" + strings.ToValidUTF8(s[len(s)-maxErrorLine:], "")
	}
	return s
}

// errClosedPool is the cause when a Pool is used after Close.
var errClosedPool = errors.New("connection pool closed")
