package ui

import (
	"nixdeck/ui/internal/cells"

	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// genScreen is the generations of one host, newest first. Moving through
// them shows what going back to the one under the cursor would change,
// against the running system; each of those diffs is read from the host
// once and kept while the host runs the same system.
type genScreen struct {
	row    *hostRow
	gens   []nix.Generation
	cursor int
	top    int
	diffs  map[genKey]*genDiff
	op     int    // the diff being read, 0 for none
	opKey  genKey // the generation it is for
}

// genKey names a generation's diff: the host, the generation, and the
// system it is compared with (a new running system makes a new diff).
type genKey struct {
	host    string
	gen     int
	current string
}

// genDiff is a generation's diff as read, or why it could not be.
type genDiff struct {
	diff *fleet.HostDiff
	err  error
}

// openGenerations shows the generations of the highlighted host, as its
// last state read found them.
func (m *Model) openGenerations() tea.Cmd {
	r := m.table.current()
	switch {
	case r == nil:
		return nil
	case r.state == nil:
		return m.say(r.node.Name+": its state has not been read (R reads it)", true)
	case len(r.state.Generations) == 0:
		return m.say(r.node.Name+": no system generations", true)
	}
	g := &m.gens
	if g.diffs == nil {
		g.diffs = map[genKey]*genDiff{}
	}
	g.row, g.gens, g.cursor, g.top = r, nil, 0, 0
	for i := len(r.state.Generations) - 1; i >= 0; i-- {
		g.gens = append(g.gens, r.state.Generations[i])
	}
	m.screen = screenGenerations
	return g.diffCmd(m)
}

// diffKey names the diff of the generation under the cursor.
func (g *genScreen) diffKey() genKey {
	return genKey{host: g.row.node.Name, gen: g.gens[g.cursor].Number, current: g.row.state.Current}
}

// diffCmd starts reading the diff of the generation under the cursor,
// unless it is known or being read; a read for another generation is
// stopped, as the cursor has left it.
func (g *genScreen) diffCmd(m *Model) tea.Cmd {
	k := g.diffKey()
	if g.diffs[k] != nil || (g.op != 0 && g.opKey == k) || g.gens[g.cursor].Path == g.row.state.Current {
		return nil // known, being read, or the running system: nothing to read
	}
	if g.op != 0 {
		m.stop(g.op)
	}
	node := g.row.node
	cmd := m.start(opGenDiff, func(ctx context.Context) Events {
		return m.cfg.Engine.DiffRollback(ctx, []*fleet.Node{node}, k.gen)
	})
	g.op, g.opKey = m.nextOp, k
	return cmd
}

// apply takes in one event of the generation diff being read.
func (g *genScreen) apply(e fleet.Event) {
	switch e := e.(type) {
	case fleet.DiffEvent:
		g.diffs[g.opKey] = &genDiff{diff: e.Diff}
	case fleet.DoneEvent:
		if e.Err != nil {
			g.diffs[g.opKey] = &genDiff{err: e.Err}
		}
		g.op = 0
	}
}

// key handles the generations screen's keys.
func (g *genScreen) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	moved := true
	switch {
	case key.Matches(msg, k.Up):
		g.cursor--
	case key.Matches(msg, k.Down):
		g.cursor++
	case key.Matches(msg, k.PageUp, k.PageDown, k.Left, k.Right):
		// The diff pane scrolls; the list moves with ↑ ↓ home end.
		m.gen, _ = m.gen.Update(msg)
		return nil
	case key.Matches(msg, k.Top):
		g.cursor = 0
	case key.Matches(msg, k.Bottom):
		g.cursor = len(g.gens) - 1
	case key.Matches(msg, k.RollbackTo):
		return g.rollback(m)
	case key.Matches(msg, k.Back):
		if g.op != 0 {
			m.stop(g.op)
			g.op = 0
		}
		m.screen = screenFleet
		return nil
	default:
		moved = false
	}
	g.cursor = max(0, min(g.cursor, len(g.gens)-1))
	if moved {
		return g.diffCmd(m)
	}
	return nil
}

// rollback asks to roll the host back to the generation under the cursor.
func (g *genScreen) rollback(m *Model) tea.Cmd {
	gen := g.gens[g.cursor]
	if gen.Path == g.row.state.Current {
		return m.say(fmt.Sprintf("%s runs generation %d already", g.row.node.Name, gen.Number), true)
	}
	return m.prepare(actRollbackTo, []*fleet.Node{g.row.node}, gen.Number)
}

// Columns of the generations list.
var genColumns = []column{
	{title: "GEN", min: 4, ideal: 5},
	{title: "CREATED", min: 10, ideal: 19, drop: 2},
	{title: "SYSTEM", min: 10, ideal: 30, grow: true, drop: 3},
	{title: "MARKS", min: 7, ideal: 24, drop: 1},
}

// view draws the list in the upper part and the diff of the generation
// under the cursor below it.
func (g *genScreen) view(m *Model, height int) string {
	r := g.row
	listH := min(len(g.gens)+2, max(height/3, 4))
	head := fmt.Sprintf("%s · %s · below, what going back to one changes", termtext.Visible(r.node.Name),
		plural(len(g.gens), "generation"))
	lines := []string{m.st.Paint(m.st.HostName, cells.Fit(head, m.width))}
	widths := layout(genColumns, m.width-markWidth)
	lines = append(lines, m.st.Paint(m.st.Title, strings.Repeat(" ", markWidth)+joinCells(titles(genColumns), widths)))
	lines = append(lines, m.listLines(len(g.gens), g.cursor, &g.top, listH-2, widths, func(i int) []string {
		gen := g.gens[i]
		return []string{fmt.Sprint(gen.Number), gen.Created.Local().Format(time.DateTime),
			systemLabel(r.node.Name, gen.Path, ""), gen.Marks()}
	})...)
	lines = append(lines, "")
	return strings.Join(append(lines, g.diffLines(m, height-len(lines))...), "\n")
}

// diffLines is the diff pane: the diff of the generation under the
// cursor against the running system, or where it stands.
func (g *genScreen) diffLines(m *Model, height int) []string {
	gen := g.gens[g.cursor]
	d := g.diffs[g.diffKey()]
	title := fmt.Sprintf("Going back to generation %d:", gen.Number)
	switch {
	case gen.Path == g.row.state.Current:
		return []string{title + " it is the running system; nothing would change"}
	case d == nil:
		return []string{title + " " + spinnerFrames[m.spin%len(spinnerFrames)] + " reading both closures on the host…"}
	case d.err != nil:
		return []string{title + " " + m.st.Paint(m.st.HostFailed, "error: "+cause(g.row.node.Name, d.err))}
	}
	return g.diffBody(m, title, d.diff, height)
}

// diffBody shows the generation's diff in the diff pane, scrolled with
// pgup and pgdn (↑ and ↓ move through the generations).
func (g *genScreen) diffBody(m *Model, title string, d *fleet.HostDiff, height int) []string {
	if m.genFor != d {
		m.genFor = d
		m.gen.SetDiff(d)
	}
	m.gen.SetSize(m.width, max(height-1, 1))
	return []string{title, m.gen.View()}
}
