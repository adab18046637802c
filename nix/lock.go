package nix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"nixdeck/internal/tail"
)

// A nixdeck operation holds a lock on each host it changes, so that a
// second operator cannot deploy over it: the directory /run/nixdeck/lock
// (lock-<profile> for other profiles), taken with an atomic mkdir and
// holding one file, owner, with the line
//
//	USER@MACHINE pid=PID op=OPID since=2024-07-01T10:00:00Z
//
// (since is the host's clock). Held ⇔ the directory exists. Taking,
// breaking and releasing it run on the host under flock on
// /run/nixdeck/.mutex, so that a break never removes a lock someone took
// in between, and a release never removes one that is no longer ours.
// Taking it also makes the operation's run directory /run/nixdeck/<op>,
// which the activation uses later: its presence without a final status is
// how a second operator's break tells an operation still copying from one
// that is over.

// LockRequest asks for a host's lock.
type LockRequest struct {
	// Profile is the profile the operation changes; "" means "system".
	Profile string
	// OpID is the operation's id (see NewOpID); the lock names it.
	OpID string
	// Owner is "user@machine" of the operator (see LocalOwner).
	Owner string
	// PID is the operator's nixdeck process id, for the owner line.
	PID int
	// Break allows taking a lock someone else holds when its operation is
	// over (its run directory is gone or holds a final status) or the lock
	// is older than StaleAfter.
	Break bool
	// StaleAfter is the age past which a held lock may be broken
	// (activation_timeout); 0 means age alone never allows it.
	StaleAfter time.Duration
}

// LockHolder is who holds a host lock, as its owner file says.
type LockHolder struct {
	// Owner is "user@machine".
	Owner string
	PID   int
	OpID  string
	// Since is when the lock was taken, by the host's clock.
	Since time.Time
}

// String renders the owner line.
func (h LockHolder) String() string {
	return fmt.Sprintf("%s pid=%d op=%s since=%s", h.Owner, h.PID, h.OpID, h.Since.UTC().Format(time.RFC3339))
}

// LockHeldError reports a host lock held by another operation (and not
// broken).
type LockHeldError struct {
	// Path is the lock directory on the host.
	Path string
	// Holder is the validated owner line, or a description when the
	// owner file is missing ("owner not yet written") or unreadable (its
	// start, quoted): never the host's bytes raw.
	Holder string
	// Since and OpID come from the owner line (zero when it did not parse).
	Since time.Time
	OpID  string
	// Age is how long the lock has been held, by the host's clock.
	Age time.Duration
	// Over is true when the holder's operation has ended on the host.
	Over bool
	// Reason, when a break was asked for, says why it was refused.
	Reason string
}

func (e *LockHeldError) Error() string {
	s := fmt.Sprintf("%s is held by %s (for %s)", e.Path, e.Holder, e.Age.Round(time.Second))
	if e.Reason != "" {
		s += "; not broken: " + e.Reason
	}
	return s
}

// ErrSwitchLockHeld marks a refusal to take the lock while NixOS's own
// switch-to-configuration lock is held: someone is switching the host now.
var ErrSwitchLockHeld = errors.New("switch-to-configuration is running (" + SwitchLockPath + " is held)")

// ErrLockLost marks a release that found the lock gone or taken by
// another operation (it was broken): nothing was removed.
var ErrLockLost = errors.New("the host lock is no longer this operation's")

// validOpID checks an operation id: it names directories under
// /run/nixdeck and a systemd unit, so no slash, no leading dot, at most
// 128 bytes; "lock" and "lock-*" are the locks' own names there.
func validOpID(id string) bool {
	return plainName(id, 128, "_.-") && id != "lock" && !strings.HasPrefix(id, "lock-")
}

// validProfile checks a profile name: 64 bytes of the same alphabet.
func validProfile(p string) bool { return plainName(p, 64, "_.-") }

// validOwner checks "user@machine" as an owner line carries it.
func validOwner(o string) bool {
	user, machine, ok := strings.Cut(o, "@")
	return ok && len(user) >= 1 && len(user) <= 64 && len(machine) >= 1 && len(machine) <= 255 &&
		onlyRunes(user, "_.+-") && onlyRunes(machine, "_.-")
}

// plainName is 1 to max ASCII letters, digits and the runes of extra,
// starting with a letter or a digit. (Hand-written rather than a regexp:
// counted repetitions like {0,127} compile to thousands of allocations at
// every start of the binary, which every status call pays.)
func plainName(s string, max int, extra string) bool {
	return len(s) >= 1 && len(s) <= max && isAlnum(s[0]) && onlyRunes(s, extra)
}

// onlyRunes reports whether s is ASCII letters, digits and the runes of extra.
func onlyRunes(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && !strings.ContainsRune(extra, rune(s[i])) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// LockPath is the lock directory for profile ("" or "system": /run/nixdeck/lock).
func LockPath(profile string) (string, error) {
	switch {
	case profile == "" || profile == "system":
		return NixdeckLockPath, nil
	case validProfile(profile):
		return NixdeckLockPath + "-" + profile, nil
	}
	return "", fmt.Errorf("bad profile name %s", excerpt(profile))
}

// LocalOwner is "user@machine" of this process for LockRequest.Owner,
// with any character an owner line cannot carry replaced by '_'.
func LocalOwner() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	clean := func(s string, max int) string {
		s = strings.Map(func(r rune) rune {
			if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.-", r)) {
				return r
			}
			return '_'
		}, s)
		return s[:min(len(s), max)]
	}
	return clean(name, 64) + "@" + clean(host, 255)
}

// splitHolder cuts "OWNER pid=N op=ID since=TIME" into the line and its
// four values (as FindStringSubmatch would), nil when it is not that.
func splitHolder(line string) []string {
	f := strings.Split(line, " ")
	if len(f) != 4 {
		return nil
	}
	m := []string{line, f[0]}
	for i, key := range []string{"pid=", "op=", "since="} {
		v, ok := strings.CutPrefix(f[i+1], key)
		if !ok || v == "" {
			return nil
		}
		m = append(m, v)
	}
	if len(m[2]) > 10 || !onlyRunes(m[2], "") || strings.IndexFunc(m[2], func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return nil
	}
	return m
}

// parseHolder checks an owner line as the host reported it.
func parseHolder(line string) (LockHolder, error) {
	m := splitHolder(line)
	if m == nil || !validOwner(m[1]) || !plainName(m[3], 128, "_.-") {
		return LockHolder{}, errors.New("not an owner line")
	}
	pid, err := strconv.Atoi(m[2])
	if err != nil || pid <= 0 || pid > 1<<31-1 || m[2][0] == '0' {
		return LockHolder{}, fmt.Errorf("pid=%s is not a process id", m[2])
	}
	since, err := time.Parse(time.RFC3339, m[4])
	if err != nil {
		return LockHolder{}, err
	}
	return LockHolder{Owner: m[1], PID: pid, OpID: m[3], Since: since}, nil
}

// AcquireLock takes the host's lock for req.Profile in one round trip
// (privileged). It fails with ErrSwitchLockHeld while switch-to-configuration
// runs, and with *LockHeldError while another operation holds the lock and
// req.Break does not allow breaking it. When it broke a lock, broke names
// the former holder (for the history). Taking a lock this operation
// already holds succeeds: a retry after a lost connection is safe.
func AcquireLock(ctx context.Context, r Runner, req LockRequest) (broke *LockHolder, err error) {
	path, err := LockPath(req.Profile)
	if err != nil {
		return nil, err
	}
	switch {
	case !validOpID(req.OpID):
		return nil, fmt.Errorf("take the host lock: bad operation id %s", excerpt(req.OpID))
	case !validOwner(req.Owner):
		return nil, fmt.Errorf("take the host lock: bad owner %s (want user@machine)", excerpt(req.Owner))
	case req.PID < 0:
		return nil, fmt.Errorf("take the host lock: bad pid %d", req.PID)
	}
	c := acquireCmd(path, req)
	reply, err := runLockScript(ctx, r, "lock", c, acquireResults)
	if err != nil {
		return nil, fmt.Errorf("take the host lock %s: %w", path, err)
	}
	switch reply.result {
	case "acquired":
		return nil, nil
	case "switching":
		return nil, fmt.Errorf("take the host lock %s: %w", path, ErrSwitchLockHeld)
	case "broke":
		h, err := parseHolder(reply.holder)
		if err != nil {
			// A lock with an unreadable owner can only be broken for its
			// age; the history gets what could be read, quoted.
			return &LockHolder{Owner: excerpt(reply.holder)}, nil
		}
		return &h, nil
	}
	e := &LockHeldError{Path: path, Holder: "(owner not yet written)", Age: reply.age, Over: reply.over}
	if reply.holder != "" {
		if h, err := parseHolder(reply.holder); err == nil {
			e.Holder, e.Since, e.OpID = h.String(), h.Since, h.OpID
		} else {
			e.Holder = "an unreadable owner " + excerpt(reply.holder)
		}
	}
	if req.Break {
		e.Reason = "its operation " + e.OpID + " is still running"
		if e.OpID == "" {
			e.Reason = "its owner line names no operation"
		}
		if req.StaleAfter > 0 {
			e.Reason += fmt.Sprintf(", and the lock is younger than %s", req.StaleAfter)
		} else {
			e.Reason += ", and no age was given past which it is stale"
		}
	}
	return nil, e
}

// ReleaseLock gives the host's lock for profile back, if operation opID
// still holds it; otherwise it leaves it and returns an error wrapping
// ErrLockLost. It also removes the operation's run directory when no
// activation used it.
func ReleaseLock(ctx context.Context, r Runner, profile, opID string) error {
	path, err := LockPath(profile)
	if err != nil {
		return err
	}
	if !validOpID(opID) {
		return fmt.Errorf("release the host lock: bad operation id %s", excerpt(opID))
	}
	reply, err := runLockScript(ctx, r, "unlock", releaseCmd(path, opID), releaseResults)
	if err != nil {
		return fmt.Errorf("release the host lock %s: %w", path, err)
	}
	switch reply.result {
	case "released":
		return nil
	case "absent":
		return fmt.Errorf("release the host lock %s: it is gone: %w", path, ErrLockLost)
	}
	holder := "an unreadable owner " + excerpt(reply.holder)
	if h, err := parseHolder(reply.holder); err == nil {
		holder = h.String()
	}
	return fmt.Errorf("release the host lock %s: it is held by %s: %w", path, holder, ErrLockLost)
}

// runLockScript runs a lock script and parses its reply.
func runLockScript(ctx context.Context, r Runner, name string, c Cmd, results []string) (lockReply, error) {
	var out strings.Builder
	errb := tail.NewBuffer(4096)
	c.Stdout, c.Stderr = &out, errb
	if err := r.Run(ctx, c); err != nil {
		return lockReply{}, scriptError{name, c.Argv, err}
	}
	return parseLockReply(out.String(), results)
}
