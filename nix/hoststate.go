package nix

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"nixdeck/internal/tail"
)

// Paths on a NixOS host that nixdeck reads or owns.
const (
	// SystemProfile is the NixOS system profile; its system-N-link
	// siblings are the generations.
	SystemProfile = "/nix/var/nix/profiles/system"
	// SwitchLockPath is the lock switch-to-configuration holds (flock) while it runs.
	SwitchLockPath = "/run/nixos/switch-to-configuration.lock"
	// NixdeckLockPath is the lock a nixdeck operation holds on a host (flock
	// on the file, whose content names the holder: "user@machine pid=N op=ID since=RFC3339").
	NixdeckLockPath = "/run/nixdeck/lock"
	// NixdeckRunDir holds one root-only directory per activation with its
	// output and exit status.
	NixdeckRunDir = "/run/nixdeck"
)

// HostState is a host's NixOS state as one round trip reports it.
type HostState struct {
	Hostname string
	// Current is the running system (/run/current-system), Booted the one
	// the machine booted (/run/booted-system), Profile the system profile's
	// target (what the next boot starts). Empty when absent (not NixOS).
	Current, Booted, Profile string
	// ProfileGeneration is the generation number the profile points at; 0 if unknown.
	ProfileGeneration int
	// Generations are the profile's generations, oldest first.
	Generations []Generation
	// Version is the NixOS version label of the running system.
	Version string
	// RebootNeeded: the booted kernel, initrd or kernel modules differ from
	// the profile's, so only a reboot makes the profile fully effective.
	RebootNeeded bool
	// SwitchLock is switch-to-configuration's lock; NixdeckLock is nixdeck's.
	SwitchLock, NixdeckLock Lock
	// Uptime since boot.
	Uptime time.Duration
	// Systemd is true when the host runs systemd (activation can use systemd-run).
	Systemd bool
}

// Lock is what a host says about one lock.
type Lock struct {
	// Known is false when the lock could not be tested (no flock, no permission).
	Known bool
	// Held is true when another process holds the lock.
	Held bool
	// Holder is who holds it, when the lock file says so.
	Holder string
}

// String renders the lock state for a table cell.
func (l Lock) String() string {
	switch {
	case !l.Known:
		return "?"
	case l.Held && l.Holder != "":
		return "held by " + l.Holder
	case l.Held:
		return "held"
	}
	return "free"
}

// hostStateScript prints the host's state as key=value lines (values have
// no newlines: store paths, numbers, a sanitised holder). A lock is tested
// with flock -n -E 75: 0 free, 75 held, anything else unknown.
const hostStateScript = `p=` + SystemProfile + `
echo "hostname=$(cat /proc/sys/kernel/hostname 2>/dev/null || hostname)"
echo "current=$(readlink -f /run/current-system 2>/dev/null)"
echo "booted=$(readlink -f /run/booted-system 2>/dev/null)"
echo "profile=$(readlink -f $p 2>/dev/null)"
echo "profile_link=$(readlink $p 2>/dev/null)"
for l in $p-*-link; do
  [ -L "$l" ] || continue
  n=${l#$p-}; n=${n%-link}
  echo "gen=$n $(stat -c %Y "$l") $(readlink -f "$l")"
done
if [ -r /run/current-system/nixos-version ]; then echo "version=$(cat /run/current-system/nixos-version)"; fi
for f in kernel initrd kernel-modules; do
  echo "booted_$f=$(readlink -f /run/booted-system/$f 2>/dev/null)"
  echo "profile_$f=$(readlink -f $p/$f 2>/dev/null)"
done
lock() {
  if [ ! -e "$2" ]; then echo "$1=free"; return; fi
  flock -n -E 75 "$2" true 2>/dev/null
  case $? in 0) echo "$1=free";; 75) echo "$1=held";; *) echo "$1=unknown";; esac
}
lock switch_lock ` + SwitchLockPath + `
lock nixdeck_lock ` + NixdeckLockPath + `
if [ -r ` + NixdeckLockPath + ` ]; then echo "nixdeck_holder=$(head -c 200 ` + NixdeckLockPath + ` | tr '\n' ' ')"; fi
echo "uptime=$(cut -d' ' -f1 /proc/uptime)"
if [ -d /run/systemd/system ]; then echo systemd=1; fi
echo end=1
`

// HostStateCmd is the single command that reads a host's state.
func HostStateCmd() Cmd { return Cmd{Argv: []string{"sh", "-c", hostStateScript}} }

// QueryHostState reads a host's state in one round trip.
func QueryHostState(ctx context.Context, r Runner) (*HostState, error) {
	var out, errb bytes.Buffer
	c := HostStateCmd()
	c.Stdout, c.Stderr = &out, &errb
	if err := r.Run(ctx, c); err != nil {
		return nil, fmt.Errorf("read host state: %w", scriptError{"host state", c.Argv, err})
	}
	s, err := ParseHostState(out.String())
	if err != nil {
		return nil, fmt.Errorf("read host state: %w (stderr: %s)", err, tail.LastLines(errb.String(), 3))
	}
	return s, nil
}
