package nix

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// lockPrelude opens /run/nixdeck and serialises every lock script on the
// host through flock on its .mutex file (fd 9); each script ends with a
// result=… line on stdout. Arguments: $1 is the lock directory, $2 the
// operation id.
const lockPrelude = `set -u
d=` + NixdeckRunDir + ` lock=$1 op=$2
mkdir -p -m 0755 "$d" && exec 9>>"$d/.mutex" || exit 1
flock -w 60 9 || { echo "another nixdeck lock script on this host held $d/.mutex for 60 s" >&2; exit 1; }
holder() {
  holder=$(head -c 512 "$lock/owner" 2>/dev/null | head -n 1 | tr -d '\000')
  hop=${holder##* op=}; hop=${hop%% *}
  case $hop in [A-Za-z0-9]*) case $hop in *[!A-Za-z0-9_.-]*) hop= ;; esac ;; *) hop= ;; esac
}
`

// acquireScript takes the lock: refuses while switch-to-configuration's
// lock is held, takes a free lock (mkdir, then the owner line written
// aside and renamed in), takes back its own, and otherwise reports the
// holder, the lock's age (host clock, from the directory's mtime) and
// whether the holder's operation is over (its run directory gone, or
// holding a final status: anything but "awaiting", which is a switch
// waiting for its confirmation). With $5 = 1 it breaks a lock that is
// over or older than $6 seconds (0: never for age alone).
// Arguments: lock, op, owner, pid, break, stale seconds.
const acquireScript = lockPrelude + `who=$3 pid=$4 brk=$5 stale=$6
s=` + SwitchLockPath + `
if [ -e "$s" ]; then
  flock -n -E 75 "$s" true
  case $? in 0) ;; 75) echo result=switching; exit 0 ;; *) echo "cannot test $s" >&2; exit 1 ;; esac
fi
rundir() { [ -d "$d/$op" ] || mkdir -m 0700 "$d/$op"; }
take() {
  mkdir -m 0755 "$lock" 2>/dev/null || return 1
  if printf '%s pid=%s op=%s since=%s\n' "$who" "$pid" "$op" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$lock/owner.tmp" &&
    mv -f "$lock/owner.tmp" "$lock/owner" && rundir; then
    return 0
  fi
  rm -rf -- "$lock"
  echo "cannot write $lock/owner" >&2
  exit 1
}
if take; then echo result=acquired; exit 0; fi
holder
if [ -n "$hop" ] && [ "$hop" = "$op" ]; then rundir && echo result=acquired; exit; fi
now=$(date +%s)
mt=$(stat -c %Y -- "$lock" 2>/dev/null)
case $mt in '' | *[!0-9]*) mt=$now ;; esac
age=$((now - mt))
over=0
if [ -n "$hop" ]; then
  if [ ! -d "$d/$hop" ]; then
    over=1
  elif [ -f "$d/$hop/status" ]; then
    case $(head -c 64 "$d/$hop/status") in awaiting*) ;; ?*) over=1 ;; esac
  fi
fi
printf 'holder=%s\nage=%s\nover=%s\n' "$holder" "$age" "$over"
if [ "$brk" = 1 ] && { [ $over = 1 ] || { [ "$stale" -gt 0 ] && [ $age -ge "$stale" ]; }; }; then
  rm -rf -- "$lock" && take && echo result=broke && exit 0
  echo "cannot break $lock" >&2
  exit 1
fi
echo result=held
`

// releaseScript removes the lock if its owner line names $2, and the
// operation's run directory if it is empty (no activation used it).
// Arguments: lock, op.
const releaseScript = lockPrelude + `rmdir "$d/$op" 2>/dev/null
if [ ! -d "$lock" ]; then echo result=absent; exit 0; fi
holder
if [ "$hop" != "$op" ]; then printf 'holder=%s\nresult=other\n' "$holder"; exit 0; fi
rm -rf -- "$lock" && echo result=released
`

// maxLockReply bounds what a host may answer a lock script: a few short lines.
const maxLockReply = 4096

func acquireCmd(path string, req LockRequest) Cmd {
	brk := "0"
	if req.Break {
		brk = "1"
	}
	stale := int64(0)
	if req.StaleAfter > 0 {
		stale = int64((req.StaleAfter + time.Second - 1) / time.Second)
	}
	return Cmd{Argv: []string{"sh", "-c", acquireScript, "sh", path, req.OpID, req.Owner, strconv.Itoa(req.PID), brk, strconv.FormatInt(stale, 10)},
		Privileged: true, MaxOutput: maxLockReply}
}

func releaseCmd(path, opID string) Cmd {
	return Cmd{Argv: []string{"sh", "-c", releaseScript, "sh", path, opID}, Privileged: true, MaxOutput: maxLockReply}
}

// lockReply is what a lock script answered.
type lockReply struct {
	result string
	holder string // the owner line's first 512 bytes, unchecked
	age    time.Duration
	over   bool
}

// The results each script gives.
var (
	acquireResults = []string{"acquired", "switching", "broke", "held"}
	releaseResults = []string{"released", "absent", "other"}
)

// parseLockReply checks a lock script's reply: key=value lines, each key
// once, the result last and one of results.
func parseLockReply(out string, results []string) (lockReply, error) {
	var r lockReply
	if !strings.HasSuffix(out, "\n") {
		return r, fmt.Errorf("lock script reply incomplete: %s", excerpt(out))
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	seen := map[string]bool{}
	for i, l := range lines {
		k, v, ok := strings.Cut(l, "=")
		if !ok || seen[k] {
			return r, fmt.Errorf("lock script reply line %d: %s", i+1, excerpt(l))
		}
		seen[k] = true
		var err error
		switch k {
		case "result":
			if !slices.Contains(results, v) || i != len(lines)-1 {
				err = fmt.Errorf("unexpected result")
			}
			r.result = v
		case "holder":
			if len(v) > 512 {
				err = fmt.Errorf("owner line too long")
			}
			r.holder = v
		case "age":
			var n int64
			n, err = strconv.ParseInt(v, 10, 64)
			if n < 0 || n > 1<<40 {
				n = 0 // a clock that went back, or nonsense: no age
			}
			r.age = time.Duration(n) * time.Second
		case "over":
			if v != "0" && v != "1" {
				err = fmt.Errorf("not 0 or 1")
			}
			r.over = v == "1"
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return r, fmt.Errorf("lock script reply line %d: %s: %w", i+1, excerpt(l), err)
		}
	}
	if r.result == "" {
		return r, fmt.Errorf("lock script reply without a result: %s", excerpt(out))
	}
	return r, nil
}
