package nix

import (
	"fmt"
	"strings"
)

// Lock is what a host says about one lock.
type Lock struct {
	// Known is false when the lock could not be tested (no flock, no
	// permission, something other than a directory at nixdeck's lock path).
	Known bool
	// Held is true when another process holds the lock.
	Held bool
	// Holder is who holds it, as its owner file says: a holder line that
	// passed parseHolder, so it is safe to print.
	Holder string
	// NoHolder says why a held lock has no Holder: "owner not yet written"
	// (the holder has made the directory and not yet written the file) or
	// "owner not valid" (the reason is in HostState.Ignored).
	NoHolder string
}

// String renders the lock state for a table cell.
func (l Lock) String() string {
	switch {
	case !l.Known:
		return "?"
	case l.Held && l.Holder != "":
		return "held by " + l.Holder
	case l.Held && l.NoHolder != "":
		return "held (" + l.NoHolder + ")"
	case l.Held:
		return "held"
	}
	return "free"
}

// maxHolder bounds a holder line; the script sends one byte more
// (maxHolderRead) so that a longer owner file shows as too long.
const (
	maxHolder     = 512
	maxHolderRead = "513"
)

// ownerFile is the file in nixdeck's lock directory that names the holder.
const ownerFile = NixdeckLockPath + "/owner"

// parseSwitchLock reads the script's verdict on a flock'd lock.
func parseSwitchLock(v string) Lock {
	switch v {
	case "free":
		return Lock{Known: true}
	case "held":
		return Lock{Known: true, Held: true}
	}
	return Lock{}
}

// nixdeckLock assembles nixdeck's lock from the script's records: held
// while the directory exists, its holder from the owner file once that
// holds up.
func (s *HostState) nixdeckLock(kv map[string]string) Lock {
	switch kv["nixdeck_lock"] {
	case "free":
		return Lock{Known: true}
	case "not-a-directory":
		s.ignore(NixdeckLockPath, "not a directory")
		return Lock{}
	case "held":
	default:
		return Lock{}
	}
	l := Lock{Known: true, Held: true}
	v, ok := kv["nixdeck_holder"]
	if !ok {
		l.NoHolder = "owner not yet written"
		return l
	}
	h, err := statusHolder(v)
	if err != nil {
		s.ignore(ownerFile, err.Error())
		l.NoHolder = "owner not valid"
		return l
	}
	l.Holder = h
	return l
}

// statusHolder checks an owner file's content as the lock's own parser
// (parseHolder) does and returns the line it makes of it: one line (a
// final newline allowed) "user@machine pid=N op=ID since=RFC3339", each
// field of a plain alphabet, so that the line is safe to print as it is.
func statusHolder(v string) (string, error) {
	line := strings.TrimSuffix(v, "\n")
	if len(line) > maxHolder {
		return "", fmt.Errorf("longer than %d bytes", maxHolder)
	}
	if _, err := parseHolder(line); err != nil {
		return "", fmt.Errorf("%s is not \"user@machine pid=N op=ID since=TIME\": %w", excerpt(line), err)
	}
	return line, nil
}
