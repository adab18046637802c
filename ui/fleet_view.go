package ui

import (
	"nixdeck/ui/internal/cells"

	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/spinner"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Columns of the fleet table, in the order the issue names them. At 80
// cells the address and the tags give way first, then the last outcome,
// the reboot and drift columns; name and state always stay.
const (
	colName = iota
	colTags
	colAddr
	colState
	colGen
	colDrift
	colReboot
	colLast
)

// fleetColumns are the fleet table's columns, sized for rows.
func fleetColumns(rows []*hostRow) []column {
	name, tags, addr := 4, 4, 7
	for _, r := range rows {
		name = max(name, ansi.StringWidth(r.node.Name))
		tags = max(tags, ansi.StringWidth(r.tags))
		addr = max(addr, ansi.StringWidth(r.addr))
	}
	return []column{
		colName:   {title: "NAME", min: min(name, 8), ideal: name},
		colTags:   {title: "TAGS", min: 4, ideal: min(tags, 20), drop: 6},
		colAddr:   {title: "ADDRESS", min: min(addr, 15), ideal: min(addr, 30), drop: 7, optional: true},
		colState:  {title: "STATE", min: 12, ideal: 20, grow: true},
		colGen:    {title: "GEN", min: 3, ideal: 26, drop: 2},
		colDrift:  {title: "DRIFT", min: 5, ideal: 5, drop: 3},
		colReboot: {title: "REBOOT", min: 6, ideal: 6, drop: 4},
		colLast:   {title: "LAST", min: 10, ideal: 20, drop: 5},
	}
}

// markWidth is the cursor and selection marks in front of every row:
// ">" on the highlighted host, "*" on a selected one.
const markWidth = 3

// spinnerFrames turn in front of a busy host's state.
var spinnerFrames = spinner.MiniDot.Frames

// fleetView draws the fleet screen, height lines.
func (m *Model) fleetView(height int) string {
	t := &m.table
	var lines []string
	if t.editing || t.filter.Value() != "" {
		f := "filter " + t.filter.View()
		if !t.editing {
			f = m.st.Paint(m.st.Muted, fmt.Sprintf("filter /%s (%d of %d hosts; / to change, esc in it to clear)",
				t.filter.Value(), len(t.visible), len(t.all)))
		}
		lines = append(lines, f)
	}
	cols := t.cols
	widths := layout(cols, m.width-markWidth)
	lines = append(lines, m.st.Paint(m.st.Title, strings.Repeat(" ", markWidth)+joinCells(titles(cols), widths)))
	rowsHeight := height - len(lines)
	t.scroll(rowsHeight)
	if len(t.visible) == 0 {
		msg := "no host matches the filter"
		if len(t.all) == 0 {
			msg = "the fleet file has no nodes"
		}
		lines = append(lines, m.st.Paint(m.st.Muted, "   "+msg))
	}
	now := m.cfg.Now()
	for i := t.offset; i < len(t.visible) && i < t.offset+rowsHeight; i++ {
		lines = append(lines, m.fleetRow(t.visible[i], i == t.cursor, widths, now))
	}
	return strings.Join(lines, "\n")
}

// fleetRow draws one host. The highlighted row is drawn in one style,
// over the plain cells: a cell's own colour would end the highlight.
func (m *Model) fleetRow(r *hostRow, cur bool, widths []int, now time.Time) string {
	mark := "  "
	if cur {
		mark = "> "
	}
	sel := " "
	if r.selected {
		sel = "*"
	}
	state := r.stateWord()
	if r.busy() {
		state = spinnerFrames[m.spin%len(spinnerFrames)] + " " + state
	}
	cs := make([]string, colLast+1)
	cs[colName] = r.node.Name
	cs[colTags] = r.tags
	cs[colAddr] = r.addr
	cs[colState] = state
	cs[colGen] = r.generation()
	cs[colDrift] = r.drift()
	cs[colReboot] = r.reboot()
	cs[colLast] = r.lastWhen(now)
	if cur {
		return m.st.Paint(m.st.Cursor, mark+sel+joinCells(cs, widths))
	}
	for i, c := range cs {
		if widths[i] > 0 {
			cs[i] = m.paintCell(i, r, cells.Fit(c, widths[i]))
		}
	}
	if r.selected {
		sel = m.st.Paint(m.st.Marked, sel)
	}
	return mark + sel + strings.TrimRight(joinCells(cs, widths), " ")
}

// paintCell styles a fleet table cell by what it says. The words carry
// the meaning; the colours only make it quicker to see.
func (m *Model) paintCell(col int, r *hostRow, text string) string {
	st := m.stateStyle(r, col)
	if st == nil {
		return text
	}
	return m.st.Paint(*st, text)
}

// stateStyle is the style of a cell of r in column col, nil for none.
func (m *Model) stateStyle(r *hostRow, col int) *lipgloss.Style {
	switch col {
	case colState:
		switch {
		case r.busy():
			return &m.st.HostWorking
		case r.readErr != nil:
			return &m.st.HostFailed
		case r.state != nil && (r.state.NixdeckLock.Held || r.state.SwitchLock.Held):
			return &m.st.HostWarning
		case r.fresh && r.last != nil:
			return m.outcomeStyle(r.last.word)
		}
	case colDrift:
		if d := r.drift(); d == "drift" || d == "error" {
			return &m.st.HostWarning
		}
	case colReboot:
		if r.reboot() == "yes" {
			return &m.st.HostWarning
		}
	case colLast:
		if r.last != nil {
			return m.outcomeStyle(r.last.word)
		}
	case colName:
		return &m.st.HostName
	}
	return nil
}

// outcomeStyle is the style of a rollout outcome's word.
func (m *Model) outcomeStyle(word string) *lipgloss.Style {
	switch word {
	case "done", "unchanged":
		return &m.st.HostDone
	case "failed", "unreachable":
		return &m.st.HostFailed
	case "rolled back", "unknown":
		return &m.st.HostWarning
	case "skipped":
		return &m.st.HostSkipped
	}
	return nil
}
