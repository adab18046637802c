#!/bin/sh
# switch-to-configuration of a nixdeck lab system: NixOS's contract in sh.
# It compares the unit files of the running system with this one, prints
# and journals the lines NixOS prints, and points /run/current-system here.
# The lab fault baked into this system at build time: fail, units, hang,
# breakssh, degraded, reboot (the kernel differs; nothing to do here) or
# empty. A degraded system turns degraded degrade_after seconds after its
# activation, in a process this script starts as its hidden action
# lab-degrade.
set -u
PATH=/usr/bin:/bin:/usr/sbin:/sbin
fault="@fault@"
degrade_after="@degrade_after@"
system=$(readlink -f "$0")
system=${system%/bin/switch-to-configuration}
action=${1:-}

case "$action" in
switch | boot | test | dry-activate | lab-degrade) ;;
*)
	cat >&2 <<USAGE
Usage: $0 [switch|boot|test|dry-activate]

switch:       make the configuration the boot default and activate now
boot:         make the configuration the boot default
test:         activate the configuration, but don't make it the boot default
dry-activate: show what would be done if this configuration were activated
USAGE
	exit 1
	;;
esac

host=$(cat "$system/etc/hostname")
journal=/run/log/journal/lab.log
mkdir -p /run/nixos /run/log/journal /run/nixdeck-lab /nix/var/nixdeck-lab
# Where the host's sshd and health endpoint are (written by nixdeck lab).
[ -f /run/nixdeck-lab/host.env ] && . /run/nixdeck-lab/host.env

# journal UNIT IDENT MESSAGE appends one line that sw/bin/journalctl shows.
journal() {
	printf '%s\t%s %s %s: %s\n' "$1" "$(date '+%b %d %H:%M:%S')" "$host" "$2" "$3" >>"$journal"
}

# say prints a line as NixOS does (on stderr) and journals it.
say() {
	printf '%s\n' "$1" >&2
	journal nixos "nixos[$$]" "$1"
}

if [ "$action" = lab-degrade ]; then
	# lab-app crashes a while after the activation: when a test holds the
	# host (lab.HoldDegraded), when it says so. The switch lock orders
	# this after the activation and before any later one, and a system no
	# longer running has nothing to crash.
	gate=/run/nixdeck-lab/degraded.gate
	if [ -p "$gate" ]; then read -r _ <"$gate"; else sleep "$degrade_after"; fi
	exec 9>/run/nixos/switch-to-configuration.lock
	flock 9
	[ "$(readlink /run/current-system)" = "$system" ] || exit 0
	echo lab-app.service >/run/nixdeck-lab/failed-units
	journal lab-app.service "lab-app[$$]" "fatal: worker pool exhausted"
	journal lab-app.service "systemd[1]" "lab-app.service: Main process exited, code=exited, status=70/SOFTWARE"
	journal lab-app.service "systemd[1]" "lab-app.service: Failed with result 'exit-code'."
	exit 0
fi

exec 9>/run/nixos/switch-to-configuration.lock
if ! flock -n 9; then
	echo "Could not acquire lock" >&2
	exit 1
fi

old=$(readlink /run/current-system 2>/dev/null || true)
units() { [ -d "$1/etc/systemd/system" ] && ls "$1/etc/systemd/system"; }
newunits=$(units "$system")
oldunits=$(units "$old" 2>/dev/null || true)
stop="" restart="" start=""
for u in $oldunits; do
	case " $(echo $newunits) " in *" $u "*) ;; *) stop="$stop${stop:+, }$u" ;; esac
done
for u in $newunits; do
	case " $(echo $oldunits) " in
	*" $u "*)
		if [ "$(readlink "$old/etc/systemd/system/$u")" != "$(readlink "$system/etc/systemd/system/$u")" ]; then
			restart="$restart${restart:+, }$u"
		fi
		;;
	*) start="$start${start:+, }$u" ;;
	esac
done

if [ "$action" = dry-activate ]; then
	[ -n "$stop" ] && echo "would stop the following units: $stop" >&2
	echo "would activate the configuration" >&2
	[ -n "$restart" ] && echo "would restart the following units: $restart" >&2
	[ -n "$start" ] && echo "would start the following units: $start" >&2
	exit 0
fi

if [ "$action" = switch ] || [ "$action" = boot ]; then
	say "updating GRUB 2 menu..."
	echo "$system" >/nix/var/nixdeck-lab/boot-entry
fi
[ "$action" = boot ] && exit 0

rc=0
journal nixos "nixos[$$]" "switching to system configuration $system"
[ -n "$stop" ] && say "stopping the following units: $stop"
say "activating the configuration..."
say "setting up /etc..."
if [ "$fault" = fail ]; then
	say "Activation script snippet 'lab-fault' failed (1)"
	rc=2
fi
ln -sfn "$system" /run/current-system
say "reloading user units for root..."
say "setting up tmpfiles"

if [ "$fault" = breakssh ]; then
	# The new configuration locks the operator out: the sshd listener goes
	# away; sessions already open keep running.
	if [ -f /run/sshd.pid ]; then
		pid=$(cat /run/sshd.pid)
		kill "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	fi
	rm -f /run/sshd.pid
	case ", $restart, " in
	*", sshd.service, "*) ;;
	*) restart="$restart${restart:+, }sshd.service" ;;
	esac
	journal sshd.service "systemd[1]" "sshd.service: Failed to listen: Address not available"
elif ! { [ -f /run/sshd.pid ] && kill -0 "$(cat /run/sshd.pid)" 2>/dev/null; }; then
	# A good configuration brings the sshd listener back.
	rm -f /run/sshd.pid
	/usr/sbin/sshd -f "$LAB_SSHD_CONFIG" -E "$LAB_SSHD_LOG" </dev/null >/dev/null 2>&1 9>&-
	# sshd writes its pid file once it listens.
	i=0
	while [ ! -s /run/sshd.pid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	journal sshd.service "systemd[1]" "Started SSH Daemon."
fi

# The health endpoint (lab-app's) comes back with any configuration; it
# answers 503 while units have failed.
healthd=/run/nixdeck-lab/healthd.pid
if [ "${LAB_HEALTH_PORT:-0}" != 0 ] && ! { [ -s "$healthd" ] && kill -0 "$(cat "$healthd")" 2>/dev/null; }; then
	if perl "$LAB_HEALTHD" "$LAB_HEALTH_PORT" /run/nixdeck-lab </dev/null >/dev/null 2>>/run/nixdeck-lab/healthd.log 9>&-; then
		journal lab-app.service "systemd[1]" "Started lab-app.service - health endpoint on 127.0.0.1:$LAB_HEALTH_PORT."
	else
		journal lab-app.service "systemd[1]" "lab-app.service: Failed to listen on 127.0.0.1:$LAB_HEALTH_PORT."
	fi
fi

[ -n "$restart" ] && say "restarting the following units: $restart"
[ -n "$start" ] && say "starting the following units: $start"
for u in $(echo "$restart, $start" | tr ',' ' '); do
	journal "$u" "systemd[1]" "Started $u."
done
gate=/run/nixdeck-lab/breakssh.gate
if [ "$fault" = breakssh ] && [ -p "$gate" ]; then
	# A test holds the activation here, the listener gone, until it has
	# acted (lab.HoldBreakSSH).
	read -r _ <"$gate"
fi

if [ "$fault" = hang ]; then
	# A unit that never finishes starting: the activation never returns
	# and keeps holding the switch lock.
	journal lab-app.service "systemd[1]" "Starting lab-app.service - nixdeck lab application..."
	exec sleep infinity
fi

if [ "$fault" = units ]; then
	echo lab-app.service >/run/nixdeck-lab/failed-units
	journal lab-app.service "lab-app[$$]" "error: cannot bind 0.0.0.0:8080: address in use"
	journal lab-app.service "systemd[1]" "lab-app.service: Main process exited, code=exited, status=1/FAILURE"
	journal lab-app.service "systemd[1]" "lab-app.service: Failed with result 'exit-code'."
	say "warning: the following units failed: lab-app.service"
	cat >&2 <<STATUS

× lab-app.service - nixdeck lab application
     Loaded: loaded (/etc/systemd/system/lab-app.service; enabled; preset: enabled)
     Active: failed (Result: exit-code) since $(date '+%a %Y-%m-%d %H:%M:%S %Z')
STATUS
	exit 4
fi
rm -f /run/nixdeck-lab/failed-units
if [ "$fault" = degraded ]; then
	# Detached from everything of the activation's, the lock included.
	setsid "$system/bin/switch-to-configuration" lab-degrade </dev/null >/dev/null 2>&1 9>&- &
fi
exit $rc
