package nix

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"nixdeck/internal/proc"
	"nixdeck/internal/tail"
)

// The activation runs detached from the SSH session in /run/nixdeck/<op>/
// (root-only): out (stdout and stderr), pid, mode (systemd or setsid) and,
// when it has finished, status ("activate N", "profile N" or "killed -").
// Separate short commands start it, follow its output from a byte offset
// and stop it, so a dropped connection only interrupts the following.

// activateRunScript is the detached process: set the profile for
// switch/boot, then run the system's switch-to-configuration, and record
// the exit status atomically. When switch-to-configuration refuses (exit
// 1: the switch lock held, bad arguments) nothing was activated, so the
// profile goes back to the generation it pointed at: the next boot must
// not start a system that never ran. Arguments: dir, system, action,
// generation.
const activateRunScript = `dir=$1 sys=$2 action=$3 gen=$4
exec >>"$dir/out" 2>&1 </dev/null
echo $$ >"$dir/pid.tmp" && mv "$dir/pid.tmp" "$dir/pid"
finish() { echo "$1 $2" >"$dir/status.tmp"; mv "$dir/status.tmp" "$dir/status"; exit 0; }
prev=
case $action in
switch | boot)
  prev=$(readlink ` + SystemProfile + ` 2>/dev/null); prev=${prev#system-}; prev=${prev%-link}
  case $prev in '' | *[!0-9]*) prev= ;; esac
  if [ -n "$gen" ]; then
    nix-env -p ` + SystemProfile + ` --switch-generation "$gen" || finish profile $?
  else
    nix-env -p ` + SystemProfile + ` --set "$sys" || finish profile $?
  fi
  ;;
esac
"$sys/bin/switch-to-configuration" "$action"
rc=$?
if [ $rc -eq 1 ] && [ -n "$prev" ]; then
  echo "nixdeck: switch-to-configuration refused; the system profile goes back to generation $prev"
  nix-env -p ` + SystemProfile + ` --switch-generation "$prev"
fi
finish activate $rc
`

// activateLaunchScript creates the run directory (or takes the empty one
// AcquireLock made for the operation) and starts the run
// script under systemd-run (its own unit, outside the SSH session's scope)
// or, without systemd, in a new session with setsid/nohup. It returns once
// the process has written its pid. A transient unit gets systemd's
// compiled-in PATH, which on NixOS holds neither coreutils nor nix-env, so
// the session's PATH goes along (-E, as nixos-rebuild passes LOCALE_ARCHIVE).
// Arguments: dir, system, action, generation, unit.
var activateLaunchScript = `set -eu
dir=$1 unit=$5
run=` + quotedRunScript() + `
mkdir -p -m 0755 ` + NixdeckRunDir + `
if ! mkdir -m 0700 "$dir" 2>/dev/null && { [ -L "$dir" ] || [ ! -d "$dir" ] || [ -e "$dir/out" ]; }; then
  echo "$dir: exists, and is not an unused run directory" >&2
  exit 1
fi
: >"$dir/out"
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  echo systemd >"$dir/mode"
  systemd-run --unit="$unit" --collect --quiet --service-type=exec -E PATH -E LOCALE_ARCHIVE \
    -- sh -c "$run" sh "$1" "$2" "$3" "$4"
else
  echo setsid >"$dir/mode"
  setsid nohup sh -c "$run" sh "$1" "$2" "$3" "$4" </dev/null >/dev/null 2>&1 &
fi
i=0
while [ ! -e "$dir/pid" ] && [ ! -e "$dir/status" ]; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then echo "activation did not start" >&2; exit 1; fi
  sleep 0.1
done
`

// activateFollowScript prints the output from byte offset $2 as it grows
// and, when the activation has ended, its status on stderr as
// "status=…" ("gone" when the directory vanished, e.g. after a reboot;
// "vanished" when the process died without recording a status).
const activateFollowScript = `dir=$1 off=$2
if [ ! -d "$dir" ]; then echo "status=gone" >&2; exit 0; fi
while :; do
  st=
  if [ -e "$dir/status" ]; then st=$(cat "$dir/status"); fi
  sz=$(stat -c %s "$dir/out")
  if [ "$sz" -gt "$off" ]; then
    tail -c +$((off + 1)) "$dir/out" | head -c $((sz - off))
    off=$sz
  fi
  if [ -n "$st" ]; then echo "status=$st" >&2; exit 0; fi
  if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    if [ -e "$dir/status" ]; then continue; fi
    echo "status=vanished" >&2
    exit 0
  fi
  sleep 0.2
done
`

// activateKillScript stops a timed-out activation: the unit under systemd,
// else the process group setsid gave it, and records "killed". It returns
// once the group's processes are gone (zombies waiting for a slow reaper
// count as gone: they hold no files), for up to 5 s: until then they hold
// the switch lock, and the caller's next step may need it.
// Arguments: dir, unit.
const activateKillScript = `dir=$1 unit=$2
if [ "$(cat "$dir/mode" 2>/dev/null)" = systemd ]; then
  systemctl kill --signal=KILL "$unit" 2>/dev/null
  systemctl stop "$unit" 2>/dev/null
else
  pid=$(cat "$dir/pid" 2>/dev/null)
  pg=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
  if [ -n "$pg" ]; then
    kill -KILL "-$pg" 2>/dev/null
    i=0
    while [ $i -lt 100 ] && ps -e -o pgid=,stat= | awk -v g="$pg" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; do
      sleep 0.05
      i=$((i + 1))
    done
  fi
fi
if [ ! -e "$dir/status" ]; then echo "killed -" >"$dir/status"; fi
`

func (q ActivateRequest) dir() string  { return NixdeckRunDir + "/" + q.OpID }
func (q ActivateRequest) unit() string { return "nixdeck-" + q.OpID }

// launchCmd starts the detached activation.
func (q ActivateRequest) launchCmd() Cmd {
	gen := ""
	if q.Generation > 0 {
		gen = strconv.Itoa(q.Generation)
	}
	return Cmd{Argv: []string{"sh", "-c", activateLaunchScript, "sh", q.dir(), q.Path, string(q.Action), gen, q.unit()}, Privileged: true}
}

// followCmd streams the output from offset and ends with the status.
func (q ActivateRequest) followCmd(offset int64) Cmd {
	return Cmd{Argv: []string{"sh", "-c", activateFollowScript, "sh", q.dir(), strconv.FormatInt(offset, 10)}, Privileged: true}
}

// killCmd stops the activation.
func (q ActivateRequest) killCmd() Cmd {
	return Cmd{Argv: []string{"sh", "-c", activateKillScript, "sh", q.dir(), q.unit()}, Privileged: true}
}

// quotedRunScript is activateRunScript quoted as one shell word for the
// launch script. The quoter refuses only a NUL byte, which the constant
// does not hold (TestActivateRunScriptQuotes), so its error cannot occur.
func quotedRunScript() string {
	q, _ := proc.ShellQuote(activateRunScript)
	return q
}

// scriptError keeps an error about one of nixdeck's sh -c scripts
// readable: the script itself is left out of the message (errors.As still
// finds the *ExitError with the full argv). Transport errors (a cancelled
// or timed-out command) quote the command too; argv lets them be shortened.
type scriptError struct {
	name string
	argv []string
	err  error
}

func (e scriptError) Error() string {
	var ee *ExitError
	if !errors.As(e.err, &ee) {
		if len(e.argv) == 0 {
			return e.err.Error()
		}
		return strings.Replace(e.err.Error(), proc.Format(e.argv), e.name+" script", 1)
	}
	short := fmt.Sprintf("%s script: exit status %d", e.name, ee.Code)
	if ee.Signal != "" {
		short = fmt.Sprintf("%s script: killed by signal %s", e.name, ee.Signal)
	}
	if ee.Host != "" {
		// The transport's ExitError names its host; the short form must too.
		short = ee.Host + ": " + short
	}
	if s := strings.TrimSpace(ee.Stderr); s != "" {
		short += ": " + tail.LastLines(s, 3)
	}
	return strings.Replace(e.err.Error(), ee.Error(), short, 1)
}

func (e scriptError) Unwrap() error { return e.err }
