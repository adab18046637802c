package nix

// activateRunScript is the detached process. It records what runs now
// (from-generation: the profile's generation, from-system:
// /run/current-system's target) before changing anything, sets the
// profile for switch/boot, runs the system's switch-to-configuration and
// records the end in status, atomically (written aside, renamed in).
//
// When switch-to-configuration refuses (exit 1: the switch lock held, bad
// arguments) nothing was activated, so the profile goes back to the
// generation it pointed at: the next boot must not start a system that
// never ran.
//
// Magic rollback ($5, seconds, set for switch and test): the activation
// runs as a child in a process group of its own (its pgid in child), so
// that a timed-out one can be killed (the kill file marks it) while this
// script lives on to roll back. After an exit 0 the status is "awaiting
// 0" and the script waits up to $5 s for <dir>/confirm, which nixdeck
// writes over a new connection. The decision is the script's alone and
// made once: renaming confirm to confirmed is the confirmation ("confirmed
// 0"); the deadline passing first, or the kill file, is the rollback. A
// confirmation written later changes nothing. The rollback puts the
// profile back on the recorded generation (switch), runs the recorded
// system's switch-to-configuration (switch, or test for test) and records
// "rolled-back RC WHY" (WHY: unconfirmed or timeout), or "rollback-profile
// RC WHY" when the profile could not be put back. With nothing recorded to
// roll back to, it changes nothing and records "noprevious -".
//
// Arguments: dir, system, action, generation, confirm seconds.
const activateRunScript = `dir=$1 sys=$2 action=$3 gen=$4 confirm=$5
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
rollback() {
  echo "nixdeck: rolling back to $from ($1)"
  a=test
  if [ "$action" = switch ]; then
    a=switch
    if [ -n "$prev" ]; then nix-env -p $p --switch-generation "$prev" || finish rollback-profile $? "$1"; fi
  fi
  "$from/bin/switch-to-configuration" $a
  finish rolled-back $? "$1"
}
killed() { [ -e "$dir/kill" ]; }
case $action in
switch | boot)
  if [ -n "$gen" ]; then
    nix-env -p $p --switch-generation "$gen" || finish profile $?
  else
    nix-env -p $p --set "$sys" || finish profile $?
  fi
  ;;
esac
if [ -n "$confirm" ]; then
  if killed; then rollback timeout; fi
  setsid -w sh -c 'echo $$ >"$0/child"; exec "$@"' "$dir" "$sys/bin/switch-to-configuration" "$action" &
  wait $!
  rc=$?
  rm -f "$dir/child"
  if killed; then rollback timeout; fi
else
  "$sys/bin/switch-to-configuration" "$action"
  rc=$?
fi
if [ $rc -eq 1 ] && [ -n "$prev" ] && [ "$action" != test ] && [ "$action" != dry-activate ]; then
  echo "nixdeck: switch-to-configuration refused; the system profile goes back to generation $prev"
  nix-env -p $p --switch-generation "$prev"
fi
if [ -n "$confirm" ] && [ $rc -eq 0 ]; then
  record ` + statusAwaiting + `
  echo "nixdeck: activated; waiting up to ${confirm}s for nixdeck to confirm over a new connection"
  end=$(($(date +%s) + confirm))
  i=0
  while :; do
    if killed; then rollback timeout; fi
    if [ -e "$dir/confirm" ] && mv "$dir/confirm" "$dir/confirmed" 2>/dev/null; then
      echo "nixdeck: confirmed"
      finish confirmed 0
    fi
    if [ $((i % 5)) -eq 0 ] && [ "$(date +%s)" -ge $end ]; then rollback unconfirmed; fi
    i=$((i + 1))
    sleep 0.2
  done
fi
finish activate $rc
`

// statusAwaiting is the status of a switch waiting for its confirmation.
const statusAwaiting = "awaiting 0"
