package nix

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"nixdeck/internal/proc"
	"nixdeck/internal/tail"
)

// Paths on a NixOS host that nixdeck reads or owns.
const (
	// SystemProfile is the NixOS system profile; its system-N-link
	// siblings are the generations.
	SystemProfile = "/nix/var/nix/profiles/system"
	// BootedSystemLink is where NixOS points at the system the machine booted.
	BootedSystemLink = "/run/booted-system"
	// SwitchLockPath is the lock switch-to-configuration holds (flock) while it runs.
	SwitchLockPath = "/run/nixos/switch-to-configuration.lock"
	// NixdeckLockPath is the lock a nixdeck operation holds on a host (flock
	// on the file, whose content names the holder: "user@machine pid=N op=ID since=RFC3339").
	NixdeckLockPath = "/run/nixdeck/lock"
	// NixdeckRunDir holds one root-only directory per activation with its
	// output and exit status.
	NixdeckRunDir = "/run/nixdeck"
)

// HostState is a host's NixOS state as one round trip reports it. Nothing
// in it is taken on trust: what the host reported that does not hold up
// is left out and listed in Ignored, so one strange entry does not cost
// the rest of the state.
type HostState struct {
	Hostname string
	// Current is the running system (/run/current-system), Booted the one
	// the machine booted (/run/booted-system), Profile the system profile's
	// target (what the next boot starts): store paths, "" when the link is
	// missing (listed in Missing) or leads elsewhere (listed in Ignored).
	Current, Booted, Profile string
	// Missing lists the links among CurrentSystemLink, BootedSystemLink and
	// SystemProfile that the host does not have; a host that is not NixOS
	// (yet) has none of them.
	Missing []string
	// ProfileGeneration is the generation number the profile points at; 0 if unknown.
	ProfileGeneration int
	// Generations are the profile's generations, oldest first.
	Generations []Generation
	// Ignored is what the host reported and nixdeck set aside: profile
	// entries that are not generations, links that lead off the store,
	// numbers out of range. Each names the entry and why.
	Ignored []Ignored
	// Version is the NixOS version label of the running system.
	Version string
	// BootedSpec is what the running kernel was booted with; ProfileSpec
	// what the profile's system boots with.
	BootedSpec, ProfileSpec BootSpec
	// RebootNeeded: the profile's system boots with another kernel,
	// initrd, kernel modules or kernel parameters than the machine did, so
	// only a reboot makes it fully effective (RebootNeeded(BootedSpec,
	// ProfileSpec)). A host switched but not rebooted still needs one.
	RebootNeeded bool
	// SwitchLock is switch-to-configuration's lock; NixdeckLock is nixdeck's.
	SwitchLock, NixdeckLock Lock
	// Uptime since boot.
	Uptime time.Duration
	// Systemd is true when the host runs systemd (activation can use systemd-run).
	Systemd bool
}

// Ignored is one thing a host reported that nixdeck did not accept.
type Ignored struct {
	// Entry names it: a profiles directory entry ("system-abc-link") or a
	// path ("/run/booted-system").
	Entry string `json:"entry"`
	// Reason says why it was set aside.
	Reason string `json:"reason"`
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

// hostStateScript prints the host's state as key=value records, each
// ended by a NUL byte: the one byte that no file name, link target or
// (with NULs deleted) file content can carry, so no name on the host can
// forge a record. Values are written by the commands themselves, never
// through $(...), which would drop trailing newlines. A link that exists
// is reported even when it cannot be resolved (an empty value); a missing
// one not at all. A lock is tested with flock -n -E 75: 0 free, 75 held,
// anything else unknown. Only POSIX sh, coreutils and flock are needed.
const hostStateScript = `p=` + SystemProfile + `
z() { printf '\000'; }
v() { printf '%s=' "$1"; shift; "$@" 2>/dev/null; z; }
t() { printf '%s=' "$1"; head -c "$3" -- "$2" 2>/dev/null | tr -d '\000'; z; }
link() { if [ -L "$2" ] || [ -e "$2" ]; then v "$1" readlink -fn -- "$2"; fi; }
t hostname /proc/sys/kernel/hostname 256
link current ` + CurrentSystemLink + `
link booted ` + BootedSystemLink + `
link profile $p
if [ -L $p ]; then v profile_link readlink -n -- $p; fi
for l in $p-*-link; do
  [ -L "$l" ] || [ -e "$l" ] || continue
  printf 'entry=%s\000' "${l##*/}"
  if [ -L "$l" ]; then v entry_time stat -c %Y -- "$l"; link entry_path "$l"; fi
done
if [ -r ` + CurrentSystemLink + `/nixos-version ]; then t version ` + CurrentSystemLink + `/nixos-version 256; fi
for s in booted=` + BootedSystemLink + ` profile=$p; do
  d=${s#*=}; s=${s%%=*}
  [ -e "$d" ] || continue
  for f in kernel initrd kernel-modules; do link "${s}_$f" "$d/$f"; done
  if [ -e "$d/kernel-params" ]; then t "${s}_kernel-params" "$d/kernel-params" ` + maxKernelParamsRead + `; fi
done
lock() {
  if [ ! -e "$2" ]; then printf '%s=free\000' "$1"; return; fi
  flock -n -E 75 "$2" true 2>/dev/null
  case $? in 0) printf '%s=free\000' "$1";; 75) printf '%s=held\000' "$1";; *) printf '%s=unknown\000' "$1";; esac
}
lock switch_lock ` + SwitchLockPath + `
lock nixdeck_lock ` + NixdeckLockPath + `
if [ -r ` + NixdeckLockPath + ` ]; then t nixdeck_holder ` + NixdeckLockPath + ` 200; fi
v uptime cut -d' ' -f1 /proc/uptime
if [ -d /run/systemd/system ]; then printf 'systemd=1\000'; fi
printf 'end=1\000'
`

// MaxHostStateOutput bounds what a host may send for its state: a
// thousand generations take about 200 KiB.
const MaxHostStateOutput = 1 << 20

// HostStateCmd is the single command that reads a host's state.
func HostStateCmd() Cmd {
	return Cmd{Argv: []string{"sh", "-c", hostStateScript}, MaxOutput: MaxHostStateOutput}
}

// QueryHostState reads a host's state in one round trip.
func QueryHostState(ctx context.Context, r Runner) (*HostState, error) {
	var out bytes.Buffer
	errb := tail.NewBuffer(4096)
	c := HostStateCmd()
	c.Stdout, c.Stderr = &out, errb
	if err := r.Run(ctx, c); err != nil {
		return nil, fmt.Errorf("read host state: %w", scriptError{"host state", c.Argv, err})
	}
	s, err := ParseHostState(out.String())
	if err != nil {
		if e := proc.StderrTail(errb.String()); e != "" {
			return nil, fmt.Errorf("read host state: %w (stderr: %s)", err, e)
		}
		return nil, fmt.Errorf("read host state: %w", err)
	}
	return s, nil
}
