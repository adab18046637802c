package nix

// activateRunScript is the detached process. It records what runs now
// (from-generation: the profile's generation, from-system:
// /run/current-system's target) before changing anything, sets the
// profile for switch/boot, runs the system's switch-to-configuration and
// records the end in status, atomically (written aside, renamed in).
// Just before switch-to-configuration it prints the line
// stageSwitchingLine, which Activate turns into StageSwitching.
//
// When switch-to-configuration refuses (exit 1: the switch lock held, bad
// arguments) nothing was activated, so the profile goes back to the
// generation it pointed at: the next boot must not start a system that
// never ran.
//
// switch-to-configuration runs as a child in a process group of its own
// (its pgid in child). With a time limit ($6, seconds: the activation
// timeout) a watchdog in a session of its own (its pid in watchdog)
// marks the kill (the kill file) and kills that group once the limit has
// passed: the host stops a hung activation by itself, whether nixdeck
// still waits or not, so it cannot hold the switch lock for ever. A
// killed activation records "killed -", or rolls back under magic
// rollback. nixdeck's kill script (activateKillScript) is only a fallback.
//
// Magic rollback ($5, seconds, set for switch and test): after an exit 0
// the status is "awaiting 0" and the script waits up to $5 s for the
// confirmation, which nixdeck's confirm script (activateConfirmScript)
// makes over a new connection. The decision is made once, by whichever
// of the two creates <dir>/decided first (mkdir is atomic): the confirm
// script, which then records "confirmed 0" itself and answers with it,
// so nixdeck learns it in the same command; or this script, once the
// deadline has passed (or the kill file is there), which then rolls back.
// A confirmation that comes later finds the decision made and changes
// nothing. The rollback puts the profile back on the recorded generation
// (switch), runs the recorded system's switch-to-configuration (switch,
// or test for test; limited as the activation was) and records
// "rolled-back RC WHY" (WHY: unconfirmed or timeout), or
// "rollback-profile RC WHY" when the profile could not be put back. With
// nothing recorded to roll back to, it changes nothing and records
// "noprevious -".
//
// Arguments: dir, system, action, generation, confirm seconds, limit
// seconds.
const activateRunScript = `dir=$1 sys=$2 action=$3 gen=$4 confirm=$5 limit=$6
p=` + SystemProfile + `
exec >>"$dir/out" 2>&1 </dev/null
echo $$ >"$dir/pid.tmp" && mv "$dir/pid.tmp" "$dir/pid"
record() { echo "$*" >"$dir/status.tmp" && mv "$dir/status.tmp" "$dir/status"; }
finish() { record "$@"; exit 0; }
prev=$(readlink $p 2>/dev/null); prev=${prev#system-}; prev=${prev%-link}
case $prev in '' | *[!0-9]*) prev= ;; esac
from=$(readlink -f ` + CurrentSystemLink + ` 2>/dev/null)
echo "$prev" >"$dir/from-generation"
echo "$from" >"$dir/from-system"
if [ -n "$confirm" ] && { [ -z "$from" ] || [ ! -x "$from/bin/switch-to-configuration" ]; }; then
  echo "nixdeck: no running system to roll back to (` + CurrentSystemLink + `); nothing was changed"
  finish noprevious -
fi
killed() { [ -e "$dir/kill" ]; }
limited() {
  setsid -w sh -c 'echo $$ >"$0/child"; exec "$@"' "$dir" "$@" &
  c=$!
  w=
  if [ -n "$limit" ]; then
    setsid sh -c 'sleep "$1" && : >"$2/kill" && kill -KILL -"$3"' sh "$limit" "$dir" "$c" &
    w=$!
    echo "$w" >"$dir/watchdog"
  fi
  wait "$c" 2>/dev/null
  rc=$?
  if [ -n "$w" ]; then
    kill -KILL -"$w" 2>/dev/null
    wait "$w" 2>/dev/null
    rm -f "$dir/watchdog"
  fi
  rm -f "$dir/child"
  return $rc
}
rollback() {
  echo "nixdeck: rolling back to $from ($1)"
  rm -f "$dir/kill"
  a=test
  if [ "$action" = switch ]; then
    a=switch
    if [ -n "$prev" ]; then nix-env -p $p --switch-generation "$prev" || finish rollback-profile $? "$1"; fi
  fi
  limited "$from/bin/switch-to-configuration" $a
  rc=$?
  if killed; then echo "nixdeck: the rollback ran past ${limit}s and was killed"; fi
  finish rolled-back $rc "$1"
}
case $action in
switch | boot)
  if [ -n "$gen" ]; then
    nix-env -p $p --switch-generation "$gen" || finish profile $?
  else
    nix-env -p $p --set "$sys" || finish profile $?
  fi
  ;;
esac
if killed && [ -n "$confirm" ]; then rollback timeout; fi
echo "` + stageSwitchingLine + ` $action"
limited "$sys/bin/switch-to-configuration" "$action"
rc=$?
if killed; then
  echo "nixdeck: switch-to-configuration ran past ${limit}s and was killed"
  if [ -n "$confirm" ]; then rollback timeout; fi
  finish killed -
fi
if [ $rc -eq 1 ] && [ -n "$prev" ] && [ "$action" != test ] && [ "$action" != dry-activate ]; then
  echo "nixdeck: switch-to-configuration refused; the system profile goes back to generation $prev"
  nix-env -p $p --switch-generation "$prev"
fi
if [ -n "$confirm" ] && [ $rc -eq 0 ]; then
  echo "nixdeck: activated; waiting up to ${confirm}s for nixdeck to confirm over a new connection"
  record ` + statusAwaiting + `
  end=$(($(date +%s) + confirm))
  i=0
  while :; do
    read -r st <"$dir/status"
    if [ "$st" = "confirmed 0" ]; then exit 0; fi
    why=
    if killed; then why=timeout; elif [ $((i % 5)) -eq 0 ] && [ "$(date +%s)" -ge $end ]; then why=unconfirmed; fi
    if [ -n "$why" ] && mkdir "$dir/decided" 2>/dev/null; then rollback $why; fi
    i=$((i + 1))
    sleep 0.2
  done
fi
finish activate $rc
`

// statusAwaiting is the status of a switch waiting for its confirmation.
const statusAwaiting = "awaiting 0"

// stageSwitchingLine starts the line the run script prints just before
// it runs switch-to-configuration (the action follows).
const stageSwitchingLine = "nixdeck: running switch-to-configuration"
