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
	// NixdeckLockPath is the lock a nixdeck operation holds on a host for
	// the system profile: a directory, held while it exists (mkdir takes
	// it atomically), whose file "owner" names the holder in one line:
	// "user@machine pid=N op=ID since=RFC3339".
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

// hostStateScript prints the host's state as key=value records, each
// ended by a NUL byte: the one byte that no file name, link target or
// shell variable can carry, so no name or file on the host can forge a
// record.
//
// It runs few processes, because on a loaded host each costs about a
// millisecond and status waits for all of them: the shell itself, one
// GNU find for every link (its target and time, written as found, never
// followed), and flock when switch-to-configuration's lock file exists.
// Files are read by the shell's own read, which keeps their bytes
// (newlines too) but drops NULs, and are cut to a bound (r; LC_ALL=C
// makes bash count bytes as dash does). The bounds are on what is sent:
// a file of one enormous line would still be read whole before it is cut. The shell's records are gathered in "$@" and
// written at once after find's, so sshd forwards two writes, not thirty.
//
// find gives each link the key its path matches, never one by its place
// among the arguments: a missing link has no record, a path that is not a
// link an empty target (Linux has no empty link targets). "find=1" comes from the start point /, so the parser
// can tell a host without GNU find from one without links. NixOS writes
// every link read here with an absolute store path, except the profile,
// which names its generation link ("system-42-link"); the parser takes
// the profile's system from that generation.
//
// The switch lock is tested with flock -n -E 75 on a descriptor of the
// shell (0 free, 75 held, anything else unknown). nixdeck's own lock is
// a directory: held while it exists, its holder in the file owner.
// Only POSIX sh, GNU find and flock are needed (dash on Debian, bash on
// NixOS).
const hostStateScript = `export LC_ALL=C
p=` + SystemProfile + ` c=` + CurrentSystemLink + ` b=` + BootedSystemLink + ` l=` + NixdeckLockPath + `
n='
'
r() {
  v=
  while :; do
    if IFS= read -r x; then v=$v$x$n; else v=$v$x; break; fi
    [ ${#v} -le $2 ] || break
  done 2>/dev/null <"$1"
  if [ ${#v} -gt $2 ]; then
    q=? k=1
    while [ $((k + k)) -le $2 ]; do q=$q$q k=$((k + k)); done
    while [ $k -lt $2 ]; do q=$q? k=$((k + 1)); done
    v=${v%"${v#$q}"}
  fi
}
find -P / $c $b $p $p-*-link $b/kernel $b/initrd $b/kernel-modules $p/kernel $p/initrd $p/kernel-modules -maxdepth 0 \( \
  -path / -printf 'find=1\0' -o \
  -path "$p-*-link" \( -type l -printf 'entry=%f\0entry_time=%T@\0entry_path=%l\0' -o -printf 'entry=%f\0' \) -o \
  -path $c -printf 'current=%l\0' -o -path $b -printf 'booted=%l\0' -o -path $p -printf 'profile_link=%l\0' -o \
  -path "$b/*" -printf 'booted_%f=%l\0' -o -path "$p/*" -printf 'profile_%f=%l\0' \) 2>/dev/null
r /proc/sys/kernel/hostname 256
set -- "hostname=$v"
if [ -r $c/nixos-version ]; then r $c/nixos-version 256; set -- "$@" "version=$v"; fi
for s in booted=$b profile=$p; do
  if [ -e "${s#*=}/kernel-params" ]; then r "${s#*=}/kernel-params" ` + maxKernelParamsRead + `; set -- "$@" "${s%%=*}_kernel-params=$v"; fi
done
s=` + SwitchLockPath + `
if [ -e $s ]; then
  { flock -n -E 75 9; } 2>/dev/null 9<$s
  case $? in 0) s=free;; 75) s=held;; *) s=unknown;; esac
else s=free; fi
set -- "$@" "switch_lock=$s"
if [ -d $l ] && [ ! -L $l ]; then
  set -- "$@" nixdeck_lock=held
  if [ -f $l/owner ] && [ ! -L $l/owner ]; then r $l/owner ` + maxHolderRead + `; set -- "$@" "nixdeck_holder=$v"
  elif [ -e $l/owner ] || [ -L $l/owner ]; then set -- "$@" nixdeck_holder=; fi
elif [ -e $l ] || [ -L $l ]; then set -- "$@" nixdeck_lock=not-a-directory
else set -- "$@" nixdeck_lock=free; fi
u=
read -r u x 2>/dev/null </proc/uptime
set -- "$@" "uptime=$u"
if [ -d /run/systemd/system ]; then set -- "$@" systemd=1; fi
printf '%s\000' "$@" end=1
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
