#!/bin/sh
# journalctl for the nixdeck lab: shows /run/log/journal/lab.log, whose lines
# are "UNIT<TAB>message". Understands -n N, -f, -u UNIT (and ignores the
# usual display flags such as --no-pager, -b, -q, -o short).
PATH=/usr/bin:/bin
file=/run/log/journal/lab.log
n="" unit="" follow=""
while [ $# -gt 0 ]; do
	case "$1" in
	-n | --lines) n=$2; shift ;;
	-n*) n=${1#-n} ;;
	--lines=*) n=${1#--lines=} ;;
	-u | --unit) unit=$2; shift ;;
	--unit=*) unit=${1#--unit=} ;;
	-f | --follow) follow=1 ;;
	-o | --output) shift ;;
	-*) ;;
	*) ;;
	esac
	shift
done
case "$unit" in "" | *.*) ;; *) unit=$unit.service ;; esac
[ -n "$follow" ] && [ -z "$n" ] && n=10
[ "$n" = all ] && n=""
touch "$file" 2>/dev/null

pick() { awk -F '\t' -v u="$unit" '(u == "" || $1 == u) { sub(/^[^\t]*\t/, ""); print }'; }

# follow shows new lines as they come: the shell's read does not buffer
# ahead on a pipe, as awk may.
tab=$(printf '\t')
follow() {
	while IFS= read -r line; do
		if [ -z "$unit" ] || [ "${line%%"$tab"*}" = "$unit" ]; then
			printf '%s\n' "${line#*"$tab"}"
		fi
	done
}

# One count of the file's lines splits what is shown as history from what
# is followed, so that no line written meanwhile is lost or shown twice.
lines=$(wc -l <"$file")
if [ -n "$n" ]; then head -n "$lines" "$file" | pick | tail -n "$n"; else head -n "$lines" "$file" | pick; fi
[ -n "$follow" ] && tail -n +$((lines + 1)) -F "$file" 2>/dev/null | follow
exit 0
