package nix

// The host's half of `diff --files`: POSIX sh with GNU find and coreutils
// (as on every NixOS host). Names travel NUL-separated both ways, so
// spaces, newlines, tabs and "=" in them cannot forge a record. The
// scripts only ever open paths that lie in the store through real
// directories (storeWalkSh checks each component); which of those to
// look at is decided on the operator's side by the walk in
// diff_files_walk.go, the same one that runs for a local tree.

// storeWalkSh defines canon P: it walks P from $store one component at a
// time and stops at the first link, missing path or non-directory (q is
// that path, rest what follows it), or at P itself (rest empty). It fails
// for a P outside $store or with empty, "." or ".." components. With
// $facts set it reports each real directory it passes ("P" records).
const storeWalkSh = `canon() {
  case $1 in "$store"/?*) ;; *) return 1 ;; esac
  rest=${1#"$store"/}
  q=$store
  while :; do
    c=${rest%%/*}
    case $c in ''|.|..) return 1 ;; esac
    q=$q/$c
    if [ "$c" = "$rest" ]; then rest=; else rest=${rest#*/}; fi
    if [ -L "$q" ] || [ ! -d "$q" ] || [ -z "$rest" ]; then return 0; fi
    if [ -n "$facts" ]; then printf 'P\0%s\0\0\0' "$q" >&3; fi
  done
}
`

// describeSh answers requests ("l" or "s" followed by a path, one per
// argument). Records go to fd 3, four NUL-terminated fields each: type,
// path, size, link target. Types are find's %y letters for a listing,
// "S" and a letter for a single lstat, "P" a directory passed on the way,
// "m" missing, "E" a listing that failed; sha256sum -z adds "HEX  PATH"
// records for the files of a listing. "s" asks for the lstat of the path;
// "l" for the path's whole subtree with hashes, and prints the absolute
// in-store targets of the links found there to stdout as further "l"
// requests, which the next stage of listScript answers.
const describeSh = `store=$1; shift; facts=1
` + storeWalkSh + `stat() { find -P "$1" -maxdepth 0 -printf 'S%y\0%p\0%s\0%l\0' >&3; }
for req do
  mode=${req%"${req#?}"}
  canon "${req#?}" || continue
  if [ -L "$q" ]; then
    stat "$q"
    if [ "$mode$rest" = l ]; then find -P "$q" -maxdepth 0 -lname "$store/*" -printf 'l%l\0'; fi
  elif [ ! -e "$q" ]; then
    printf 'm\0%s\0\0\0' "$q" >&3
  elif [ -n "$rest" ] || [ "$mode" != l ]; then
    stat "$q"
  else
    find -P "$q" -printf '%y\0%p\0%s\0%l\0' >&3 || printf 'E\0%s\0\0\0' "$q" >&3
    find -P "$q" -type f -exec sha256sum -z -- {} + >&3 || printf 'E\0%s\0\0\0' "$q" >&3
    find -P "$q" -type l -lname "$store/*" -printf 'l%l\0'
  fi
done
true
`

// listScript runs describeSh on the requests read from stdin, then on the
// link targets each stage found, for up to eight stages in one round
// trip: a NixOS etc/ (system -> etc tree -> file or directory -> unit
// file) is usually described in one. sort -zu between stages waits for the
// stage before to end, so stages never write records at the same time.
// $1 is the store, $2 describeSh.
const listScript = `exec 3>&1
store=$1 describe=$2
s() { xargs -0 -r sh -c "$describe" sh "$store"; }
s | sort -zu | s | sort -zu | s | sort -zu | s | sort -zu | s | sort -zu | s | sort -zu | s | sort -zu | s >/dev/null
`

// readSh prints, for each path argument that is a regular file in the
// store reached through real directories, its size, a NUL and its
// contents; for any other path "-" and a NUL.
const readSh = `store=$1; shift; facts=
` + storeWalkSh + `for p do
  if canon "$p" && [ -z "$rest" ] && [ ! -L "$q" ] && [ -f "$q" ] && n=$(wc -c < "$q"); then
    printf '%s\0' $n
    head -c "$n" < "$q"
  else
    printf '%s\0' -
  fi
done
true
`

// readScript feeds the NUL-separated paths on stdin to readSh ($2) with
// the store $1.
const readScript = `xargs -0 -r sh -c "$2" sh "$1"`
