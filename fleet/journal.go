package fleet

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"nixdeck/internal/proc"
	"nixdeck/nix"
)

// JournalSource is the Source of the LogEvents of a journal tail.
const JournalSource = "journal"

// DefaultJournalLines is how many of the journal's past lines a tail
// starts with when the caller names no number.
const DefaultJournalLines = 200

// maxJournalLines bounds the past lines asked for: the console keeps
// 10,000 lines of a host, no more are worth sending.
const maxJournalLines = 10_000

// unitRE is what Journal takes for a unit: a systemd unit name (letters,
// digits, : _ . @ \ -) or a glob of them (* ? [ ]), as journalctl -u
// takes them, never starting with a dash (an option to journalctl).
// The length is checked apart (maxUnitLen): a counted repetition
// compiles to thousands of allocations at every start of the binary.
var unitRE = regexp.MustCompile(`^[A-Za-z0-9:_.@\\*?\[\]][A-Za-z0-9:_.@\\*?\[\]-]*$`)

// maxUnitLen bounds a unit name, as systemd does (256 bytes).
const maxUnitLen = 256

// Journal follows node's journal, as `journalctl -f -n LINES [-u UNIT]`
// shows it, until ctx ends: every line, from stdout and stderr, is a
// LogEvent from JournalSource, each bounded as the on-disk logs bound
// theirs (a longer line is cut, with a note of how much). lines <= 0
// means DefaultJournalLines; unit "" the whole journal. Ending ctx stops
// the remote journalctl and all it started (the transport kills its
// process group), and ends the host interrupted, not failed; a journalctl
// that ends by itself (missing, refused) ends it failed, with the cause.
//
// The argv is built here rather than in nix/: journalctl is systemd's,
// and reading it needs nothing of Nix.
func (e *Engine) Journal(ctx context.Context, node *Node, unit string, lines int) *Stream {
	nodes := []*Node{node}
	return e.start(ctx, JournalSource, nodes, func(ctx context.Context, o *op) error {
		cmd, err := journalCmd(unit, lines)
		if err != nil {
			o.endAll(ctx, nodes, JournalSource, err)
			return err
		}
		o.hosts(ctx, nodes, func(ctx context.Context, h *HostRun) error {
			if err := h.connect(ctx); err != nil {
				return err
			}
			return h.journal(ctx, cmd)
		})
		return nil
	})
}

// journalCmd is the command that follows the journal: privileged, as
// the system journal is root's (and its groups') to read; its output is
// not bounded in all, for it streams to the reader, line by line.
func journalCmd(unit string, lines int) (nix.Cmd, error) {
	if lines <= 0 {
		lines = DefaultJournalLines
	}
	lines = min(lines, maxJournalLines)
	argv := []string{"journalctl", "--no-pager", "--quiet", "--follow", "--lines", strconv.Itoa(lines)}
	if unit != "" {
		if len(unit) > maxUnitLen || !unitRE.MatchString(unit) {
			return nix.Cmd{}, fmt.Errorf("unit %q: not a systemd unit name or pattern", unit)
		}
		argv = append(argv, "--unit", unit)
	}
	return nix.Cmd{Argv: argv, Privileged: true, MaxOutput: proc.NoOutputLimit}, nil
}

// journal runs cmd on the host, its lines to the stream, until ctx ends
// or journalctl does.
func (h *HostRun) journal(ctx context.Context, cmd nix.Cmd) error {
	out, errOut := newCutLines(maxLogLine, h.Log(JournalSource)), newCutLines(maxLogLine, h.Log(JournalSource))
	cmd.Stdout, cmd.Stderr = out, errOut
	err := h.Runner.Run(ctx, cmd)
	out.Flush()
	errOut.Flush()
	if err != nil {
		return &HostError{Host: h.Node.Name, Step: JournalSource, Err: err}
	}
	return &HostError{Host: h.Node.Name, Step: JournalSource, Err: fmt.Errorf("journalctl ended by itself")}
}
