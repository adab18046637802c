package nix

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// closureScript tells, in one session, everything a closure diff needs
// about the store object named by $1 (a store path or a link such as
// /run/current-system): it prints what the links resolve to, then becomes
// `nix-store --serve`, which answers for the closure, its NAR sizes and
// its references (closure_serve.go) — one nix-store process per host.
const closureScript = `set -eu
# One readlink for the four names. -f prints a missing last component
# too, hence the tests below; under a top level that is no directory none
# of the three exists, and readlink prints no line for them.
{ read -r root; read -r sw || sw=; read -r kernel || kernel=; read -r initrd || initrd=; } <<EOF
$(readlink -f -- "$1" "$1/sw" "$1/kernel" "$1/initrd")
EOF
# sw is the store object holding what $root/sw resolves to: another store
# path as a rule, $root itself when sw is a real directory; none outside.
case $sw in
  /nix/store/?*) [ -d "$sw" ] && rest=${sw#/nix/store/} && sw=/nix/store/${rest%%/*} || sw= ;;
  *) sw= ;;
esac
[ -e "$kernel" ] || kernel=
[ -e "$initrd" ] || initrd=
printf '#root %s\n#sw %s\n#kernel %s\n#initrd %s\n#serve\n' "$root" "$sw" "$kernel" "$initrd"
exec nix-store --serve
`

// ClosureCmd is the single command that reads the closure of target (a
// store path or a link to one) through a Runner: one session, also over
// SSH, in which QueryClosure talks with `nix-store --serve`.
func ClosureCmd(target string) Cmd {
	return Cmd{Argv: []string{"sh", "-c", closureScript, "sh", target}}
}

// MaxClosureOutput caps what one closure query may send (a 20,000-path
// closure with six references a path sends about 15 MiB); past it the
// host gets an error.
const MaxClosureOutput = 64 << 20

// maxClosureHeader bounds each line closureScript prints before the protocol.
const maxClosureHeader = 16 << 10

// QueryClosure runs ClosureCmd(target) through r and reads the closure:
// what the script printed, then two requests to nix-store --serve.
func QueryClosure(ctx context.Context, r Runner, target string) (*Closure, error) {
	cmd := ClosureCmd(target)
	var c *Closure
	err := converse(ctx, r, cmd, MaxClosureOutput, func(s *serveConn) error {
		s.hello() // sent with the first request
		h, err := readClosureHeader(s)
		if err != nil {
			return err
		}
		cs, err := serveClosures(s, []cliRoot{{h["root"], h["sw"]}})
		if err != nil {
			return err
		}
		c = cs[0]
		c.Kernel, c.Initrd = h["kernel"], h["initrd"]
		return nil
	})
	switch {
	case errors.Is(err, errOutputCap):
		err = capError(MaxClosureOutput, "for the closure")
	case err != nil:
		err = scriptError{"closure query", cmd.Argv, err}
	}
	if err != nil {
		return nil, fmt.Errorf("query closure of %s: %w", target, err)
	}
	return c, nil
}

// readClosureHeader reads closureScript's "#name value" lines up to
// "#serve": each name once, root and sw store objects (sw may be empty).
func readClosureHeader(s *serveConn) (map[string]string, error) {
	h := map[string]string{}
	for {
		line, err := s.in.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxClosureHeader {
			return nil, fmt.Errorf("an output line longer than %d bytes", maxClosureHeader)
		}
		if err != nil {
			return nil, &endedError{fmt.Sprintf("truncated output (root %q)", h["root"])}
		}
		key, val, _ := strings.Cut(string(bytes.TrimSuffix(line[1:], []byte("\n"))), " ")
		_, dup := h[key]
		switch {
		case line[0] != '#' || !slices.Contains([]string{"root", "sw", "kernel", "initrd", "serve"}, key):
			return nil, fmt.Errorf("unexpected output line %q", truncateForError(line))
		case dup:
			return nil, fmt.Errorf("%q comes twice", key)
		case key == "serve" && !isStoreObject(h["root"]):
			return nil, fmt.Errorf("root %q is not a store path", h["root"])
		case key == "serve" && h["sw"] != "" && !isStoreObject(h["sw"]):
			return nil, fmt.Errorf("sw %q is not a store path", h["sw"])
		case key == "serve":
			return h, nil
		}
		h[key] = val
	}
}

// cliRoot is a top level with its sw (see Closure.SW), both resolved.
type cliRoot struct{ root, sw string }
