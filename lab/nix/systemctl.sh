#!/bin/sh
# systemctl for the nixdeck lab: answers the questions health checks ask
# (is-system-running, is-active, is-failed, --failed, status) from the
# running system's unit files and the units the last activation failed.
PATH=/usr/bin:/bin
failed=/run/nixdeck-lab/failed-units
units=/run/current-system/etc/systemd/system
verb="" unit=""
for a in "$@"; do
	case "$a" in
	--failed) verb=failed ;;
	-*) ;;
	*) if [ -z "$verb" ]; then verb=$a; else unit=$a; fi ;;
	esac
done
case "$unit" in "" | *.*) ;; *) unit=$unit.service ;; esac

isfailed() { [ -s "$failed" ] && grep -qx "$1" "$failed"; }

case "$verb" in
is-system-running)
	if [ -s "$failed" ]; then echo degraded; exit 1; fi
	echo running
	;;
is-active)
	if [ ! -e "$units/$unit" ]; then echo inactive; exit 3; fi
	if isfailed "$unit"; then echo failed; exit 3; fi
	echo active
	;;
is-failed)
	if isfailed "$unit"; then echo failed; exit 0; fi
	echo active; exit 1
	;;
failed | list-units)
	[ -s "$failed" ] && sed 's/$/ loaded failed failed/' "$failed"
	;;
status)
	[ -e "$units/$unit" ] || { echo "Unit $unit could not be found." >&2; exit 4; }
	state="active (running)"
	isfailed "$unit" && state="failed (Result: exit-code)"
	echo "● $unit"
	echo "     Loaded: loaded ($units/$unit; enabled)"
	echo "     Active: $state"
	;;
*)
	echo "systemctl (nixdeck lab): unsupported command: $verb" >&2
	exit 1
	;;
esac
