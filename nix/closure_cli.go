package nix

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// closureScript prints, in one run, everything a closure diff needs about
// the store object named by $1 (a store path or a link such as
// /run/current-system), using only nix-store queries that exist from Nix
// 1.x to current Nix. Sections are introduced by "#name" lines; paths and
// sizes come in the same order, so line i of #sizes belongs to line i of
// #paths; xargs keeps that order and splits a closure too large for one
// argv (store paths contain no blanks or quotes).
const closureScript = `set -eu
root=$(readlink -f "$1")
# sw is the store object holding what $root/sw resolves to: another store
# path as a rule, $root itself when sw is a real directory; none outside.
sw=
if [ -d "$root/sw" ]; then
  sw=$(readlink -f "$root/sw")
  case $sw in
    /nix/store/?*) rest=${sw#/nix/store/}; sw=/nix/store/${rest%%/*} ;;
    *) sw= ;;
  esac
fi
echo "#root $root"
echo "#sw $sw"
# readlink -f names a missing last component instead of failing: test first.
link() { if [ -e "$root/$1" ]; then readlink -f "$root/$1"; fi; }
echo "#kernel $(link kernel)"
echo "#initrd $(link initrd)"
echo "#refs"
nix-store -q --references "$root"
echo "#swrefs"
if [ -n "$sw" ]; then nix-store -q --references "$sw"; fi
paths=$(nix-store -q --requisites "$root")
echo "#paths"
echo "$paths"
echo "#sizes"
printf '%s\n' "$paths" | xargs nix-store -q --size
echo "#end"
`

// ClosureCmd is the single command that reads the closure of target (a
// store path or a link to one) through a Runner: one round trip, also over SSH.
func ClosureCmd(target string) Cmd {
	return Cmd{Argv: []string{"sh", "-c", closureScript, "sh", target}}
}

// MaxClosureOutput caps what one closure query may print (a 20,000-path
// closure prints about 3 MiB); past it the host gets an error.
const MaxClosureOutput = 64 << 20

// QueryClosure runs ClosureCmd(target) through r and parses its output.
func QueryClosure(ctx context.Context, r Runner, target string) (*Closure, error) {
	cmd := ClosureCmd(target)
	out, err := runLimited(ctx, r, cmd, MaxClosureOutput)
	switch {
	case errors.Is(err, errOutputCap):
		err = capError(MaxClosureOutput, "for the closure")
	case err != nil:
		err = scriptError{"closure query", cmd.Argv, err}
	}
	if err != nil {
		return nil, fmt.Errorf("query closure of %s: %w", target, err)
	}
	c, err := parseClosureOutput(out)
	if err != nil {
		return nil, fmt.Errorf("query closure of %s: %w", target, err)
	}
	return c, nil
}

// cliClosure is the local fallback when the Nix database can't be read.
func cliClosure(ctx context.Context, r Runner, root, sw string) (*Closure, error) {
	c, err := QueryClosure(ctx, r, root)
	if err != nil {
		return nil, err
	}
	if c.SW != sw {
		return nil, fmt.Errorf("query closure of %s: sw resolved to %q, expected %q", root, c.SW, sw)
	}
	return c, nil
}

// parseClosureOutput reads closureScript's output.
func parseClosureOutput(b []byte) (*Closure, error) {
	c := &Closure{}
	var paths, sizes []string
	section := ""
	ended := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			key, val, _ := strings.Cut(line[1:], " ")
			switch key {
			case "root":
				c.Root = val
			case "sw":
				c.SW = val
			case "kernel":
				c.Kernel = val
			case "initrd":
				c.Initrd = val
			case "end":
				ended = true
			}
			section = key
			continue
		}
		if line == "" {
			continue
		}
		switch section {
		case "refs":
			c.Refs = append(c.Refs, line)
		case "swrefs":
			c.SWRefs = append(c.SWRefs, line)
		case "paths":
			paths = append(paths, line)
		case "sizes":
			sizes = append(sizes, line)
		default:
			return nil, fmt.Errorf("unexpected output line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !ended || !strings.HasPrefix(c.Root, StoreDir+"/") {
		return nil, fmt.Errorf("truncated output (root %q)", c.Root)
	}
	if len(paths) != len(sizes) {
		return nil, fmt.Errorf("%d paths but %d sizes", len(paths), len(sizes))
	}
	c.Paths = make(map[string]int64, len(paths))
	for i, p := range paths {
		if obj, ok := storeObject(p); !ok || obj != p {
			return nil, fmt.Errorf("%q in the closure is not a store path", p)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(sizes[i]), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("size of %s: %q is not a size", p, sizes[i])
		}
		c.Paths[p] = n
	}
	// nix-store -qR's order, which nvd reads versions in (see Closure.Order).
	c.Order = paths
	if _, ok := c.Paths[c.Root]; !ok {
		return nil, fmt.Errorf("closure of %s does not contain it", c.Root)
	}
	return c, nil
}
