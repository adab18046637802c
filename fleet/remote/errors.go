package remote

import (
	"errors"
	"fmt"
	"strings"

	"nixdeck/internal/proc"
)

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
		hostLabel(e.Name, e.Addr), e.User, e.Message, proc.Format(e.Argv))
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

// errClosedPool is the cause when a Pool is used after Close.
var errClosedPool = errors.New("connection pool closed")

// LostError is a connection to a host that ended while something was
// running or about to run on it, so the fate of that command is unknown.
// It matches proc.ErrConnectionLost (errors.Is) and prints as
// "web01 (127.0.0.1:2201): nix-store --serve: connection lost: EOF".
type LostError struct {
	// Name is the node; Addr the host:port dialled.
	Name, Addr string
	// What is the command whose fate is unknown; "" for the connection
	// itself (it died with nothing running).
	What string
	// Detail says why the connection ended, as far as it is known.
	Detail string
}

// Error names the host, the command and why the connection ended.
func (e *LostError) Error() string {
	what := ""
	if e.What != "" {
		what = e.What + ": "
	}
	return fmt.Sprintf("%s: %s%v: %s", hostLabel(e.Name, e.Addr), what, proc.ErrConnectionLost, e.Detail)
}

// Is makes errors.Is(err, proc.ErrConnectionLost) hold.
func (e *LostError) Is(target error) bool { return target == proc.ErrConnectionLost }

// lostError is the LostError of the endpoint's connection.
func (e endpoint) lostError(what, detail string) *LostError {
	return &LostError{Name: e.name, Addr: e.addr(), What: what, Detail: detail}
}
