package nix

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"nixdeck/internal/proc"
	"nixdeck/internal/tail"
)

// The activation runs detached from the SSH session in /run/nixdeck/<op>/
// (root-only): out (stdout and stderr), pid, mode (systemd or setsid),
// from-generation and from-system (what ran before), magic (the confirm
// timeout, under magic rollback) and, when it has finished, status
// ("activate N", "profile N", "killed -"; under magic rollback "confirmed
// 0", "rolled-back N WHY", "rollback-profile N WHY", "noprevious -", after
// the interim "awaiting 0"). Separate short commands start it, follow its
// output from a byte offset, confirm it and stop it, so a dropped
// connection only interrupts the following. The run script is in
// activate_run.go.

// activateLaunchScript creates the run directory (or takes the empty one
// AcquireLock made for the operation) and starts the run
// script under systemd-run (its own unit, outside the SSH session's scope)
// or, without systemd, in a new session with setsid/nohup. It returns once
// the process has written its pid (looking often at first: that takes
// milliseconds, and the launch is on every activation's path). A transient unit gets systemd's
// compiled-in PATH, which on NixOS holds neither coreutils nor nix-env, so
// the session's PATH goes along (-E, as nixos-rebuild passes LOCALE_ARCHIVE).
// Arguments: dir, system, action, generation, unit, confirm seconds, limit
// seconds.
var activateLaunchScript = `set -eu
dir=$1 unit=$5
run=` + quotedRunScript() + `
mkdir -p -m 0755 ` + NixdeckRunDir + `
if ! mkdir -m 0700 "$dir" 2>/dev/null && { [ -L "$dir" ] || [ ! -d "$dir" ] || [ -e "$dir/out" ]; }; then
  echo "$dir: exists, and is not an unused run directory" >&2
  exit 1
fi
: >"$dir/out"
if [ -n "$6" ]; then echo "$6" >"$dir/magic"; fi
if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null 2>&1; then
  echo systemd >"$dir/mode"
  systemd-run --unit="$unit" --collect --quiet --service-type=exec -E PATH -E LOCALE_ARCHIVE \
    -- sh -c "$run" sh "$1" "$2" "$3" "$4" "$6" "$7"
else
  echo setsid >"$dir/mode"
  setsid nohup sh -c "$run" sh "$1" "$2" "$3" "$4" "$6" "$7" </dev/null >/dev/null 2>&1 &
fi
i=0
while [ ! -e "$dir/pid" ] && [ ! -e "$dir/status" ]; do
  i=$((i + 1))
  if [ $i -gt 110 ]; then echo "activation did not start" >&2; exit 1; fi
  if [ $i -le 10 ]; then sleep 0.02; else sleep 0.1; fi
done
`

// activateFollowScript prints the output from byte offset $2 as it grows
// and, when the activation has recorded a status other than $3 (the
// interim "awaiting 0", once seen), that status on stderr as "status=…"
// ("gone" when the directory vanished, e.g. after a reboot; "vanished"
// when the process died without recording a status). tail streams the
// output (woken by inotify, not a loop of its own) until a poller made of
// shell builtins and one sleep ends, then prints what is left: on a host
// running many activations, or waiting long for a confirmation, polling
// with a few commands five times a second was most of what following
// cost.
const activateFollowScript = `dir=$1 off=$2 skip=${3-}
if [ ! -d "$dir" ]; then echo "status=gone" >&2; exit 0; fi
pid=
{ read -r pid <"$dir/pid"; } 2>/dev/null
ended() { [ -e "$dir/status" ] && read -r st <"$dir/status" && [ "$st" != "$skip" ]; }
(while ! ended && kill -0 "$pid" 2>/dev/null; do sleep 0.2; done) &
tail -c +$((off + 1)) -f -s 0.2 --pid=$! "$dir/out"
if ended; then echo "status=$st" >&2; else echo "status=vanished" >&2; fi
`

// activateConfirmScript confirms a switch that awaits its confirmation
// (see activateRunScript): it takes the decision (mkdir decided) unless
// the run script took it first, and then records "confirmed 0". Either
// way it prints the output from byte offset $2 and the status, as the
// follow script does, so that a confirmation needs no other command.
// Arguments: dir, offset.
const activateConfirmScript = `dir=$1 off=$2
st=
{ read -r st <"$dir/status"; } 2>/dev/null
if [ "$st" = "` + statusAwaiting + `" ] && mkdir "$dir/decided" 2>/dev/null; then
  echo "nixdeck: confirmed" >>"$dir/out"
  echo "confirmed 0" >"$dir/status.confirm" && mv "$dir/status.confirm" "$dir/status" && st="confirmed 0"
fi
tail -c +$((off + 1)) "$dir/out"
echo "status=$st" >&2
`

// activateKillScript stops an activation the host did not stop by
// itself (the run script enforces the time limit; this is the fallback):
// the activation's process group and the watchdog's, then the unit under
// systemd, else the process group setsid gave the run script, and records
// "killed". It returns once the group's processes are gone (zombies
// waiting for a slow reaper count as gone: they hold no files), for up to
// 5 s: until then they hold the switch lock, and the caller's next step
// may need it.
// Arguments: dir, unit.
const activateKillScript = `dir=$1 unit=$2
for f in child watchdog; do
  g=$(cat "$dir/$f" 2>/dev/null)
  case $g in '' | *[!0-9]*) ;; *) kill -KILL "-$g" 2>/dev/null ;; esac
done
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
	gen, confirm, limit := "", "", ""
	if q.Generation > 0 {
		gen = strconv.Itoa(q.Generation)
	}
	if q.magic() {
		confirm = seconds(q.ConfirmTimeout)
	}
	if q.Timeout > 0 {
		limit = seconds(q.Timeout)
	}
	return Cmd{Argv: []string{"sh", "-c", activateLaunchScript, "sh", q.dir(), q.Path, string(q.Action), gen, q.unit(), confirm, limit}, Privileged: true}
}

// seconds renders d in whole seconds for the host's scripts, rounded
// up: a limit is never shorter than asked, nor under a second.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(max(time.Second, d+time.Second-1)/time.Second), 10)
}

// followCmd streams the output from offset and ends with a status other
// than skip ("" or statusAwaiting).
func (q ActivateRequest) followCmd(offset int64, skip string) Cmd {
	argv := []string{"sh", "-c", activateFollowScript, "sh", q.dir(), strconv.FormatInt(offset, 10)}
	if skip != "" {
		argv = append(argv, skip)
	}
	return Cmd{Argv: argv, Privileged: true}
}

// confirmCmd confirms an activation awaiting its confirmation and
// prints its output from offset.
func (q ActivateRequest) confirmCmd(offset int64) Cmd {
	return Cmd{Argv: []string{"sh", "-c", activateConfirmScript, "sh", q.dir(), strconv.FormatInt(offset, 10)}, Privileged: true}
}

// killCmd stops the activation and everything it started.
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
