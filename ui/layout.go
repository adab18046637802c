package ui

import (
	"nixdeck/ui/internal/cells"

	"fmt"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"nixdeck/internal/termtext"
)

// chrome is the lines every screen has besides its body: the title, the
// status line and the footer.
const chrome = 3

// render draws the whole frame: the title, the screen's body, the status
// line and the footer, with the dialog (if any) over the body. Every line
// is cut to the terminal's width and the frame has exactly its height,
// so a resize never leaves a line wrapped.
func (m *Model) render() string {
	bodyH := max(m.height-chrome, 1)
	m.sizePanes(bodyH)
	body := cells.Lines(m.body(bodyH), m.width, bodyH)
	if m.dialog != nil {
		body = m.overlay(body, m.dialogBox(bodyH), bodyH)
	}
	// Every line covers the whole width: what the previous frame drew
	// there must not show through.
	return strings.Join([]string{m.titleLine(), body, cells.Fit(m.statusLine(), m.width), cells.Fit(m.footerLine(), m.width)}, "\n")
}

// body is the current screen, height lines.
func (m *Model) body(height int) string {
	switch m.screen {
	case screenDetails:
		return m.detailsView(height)
	case screenGenerations:
		return m.gens.view(m, height)
	case screenHistory:
		return m.hist.view(m, height)
	case screenHelp:
		return m.helpView(height)
	}
	if v, ok := m.componentView(height); ok {
		return v
	}
	return m.fleetView(height)
}

// titleLine names the console, the fleet file, the hosts and selection,
// and what runs.
func (m *Model) titleLine() string {
	parts := []string{"nixdeck", termtext.Visible(filepath.Base(m.cfg.Fleet.Path)), screenNames[m.screen],
		plural(len(m.rows), "host")}
	if n := len(m.table.selected()); n > 0 {
		parts = append(parts, fmt.Sprintf("%d selected", n))
	}
	if s := m.activity(); s != "" {
		parts = append(parts, s)
	}
	return m.st.Paint(m.st.Bar, cells.Fit(" "+strings.Join(parts, " · "), m.width))
}

// screenNames name the screens in the title.
var screenNames = map[screen]string{
	screenFleet: "fleet", screenDetails: "host", screenGenerations: "generations", screenHistory: "history",
	screenOpLogs: "operation logs", screenDiff: "diff", screenRollout: "rollout", screenLogs: "logs", screenHelp: "help",
}

// overlay draws box centred over body (height lines of the terminal's
// width), which stays visible around it.
func (m *Model) overlay(body, box string, height int) string {
	lines := strings.Split(body, "\n")
	boxLines := strings.Split(box, "\n")
	bw := 0
	for _, l := range boxLines {
		bw = max(bw, cells.Width(l))
	}
	x, y := max((m.width-bw)/2, 0), max((height-len(boxLines))/2, 0)
	for i, bl := range boxLines {
		if y+i >= len(lines) {
			break
		}
		under := lines[y+i]
		left := ansi.Truncate(under, x, "")
		if strings.Contains(left, "\x1b[") {
			left += "\x1b[m" // a style cut off on the left ends before the box
		}
		lines[y+i] = left + cells.Fit(bl, bw) + ansi.TruncateLeft(under, x+bw, "")
	}
	return cells.Lines(strings.Join(lines, "\n"), m.width, height)
}

// plural says "1 host", "2 hosts".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
