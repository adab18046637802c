package ui

import (
	"nixdeck/ui/internal/cells"

	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"nixdeck/internal/termtext"
)

// dialog is a modal over the current screen: it has the keys until it
// closes itself (m.dialog = nil).
type dialog interface {
	// update handles a key.
	update(m *Model, msg tea.KeyPressMsg) tea.Cmd
	// title and lines are what the box says, lines fitting width cells.
	title() string
	lines(m *Model, width int) []string
	// keys are the footer's keys while it is open.
	keys(m *Model) []key.Binding
}

// dialogBox draws the dialog in its frame, at most the body's size.
func (m *Model) dialogBox(height int) string {
	width := min(max(m.width-4, 20), 100)
	inner := width - 4 // border and padding
	lines := m.dialog.lines(m, inner)
	if max := height - 4; len(lines) > max && max > 0 {
		lines = append(lines[:max-1], m.st.Paint(m.st.Muted, "…"))
	}
	for i, l := range lines {
		lines[i] = cells.Fit(l, inner)
	}
	head := m.st.Paint(m.st.HostWarning, m.dialog.title())
	return m.st.Dialog.Render(lipgloss.JoinVertical(lipgloss.Left, append([]string{head, ""}, lines...)...))
}

// errorDialog is a blocking error: it stays until dismissed.
type errorDialog struct {
	head string
	text string // made visible line by line when drawn
}

// showError opens an error pane; one already open is replaced only by a
// newer error, so the operator sees the last one.
func (m *Model) showError(head, text string) {
	m.dialog = &errorDialog{head: head, text: text}
	m.redraw.now()
}

func (d *errorDialog) title() string { return d.head }

func (d *errorDialog) lines(m *Model, width int) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(d.text), "\n") {
		out = append(out, wrap(termtext.Visible(l), width)...)
	}
	return append(out, "", m.st.Paint(m.st.Muted, "esc or enter to dismiss"))
}

func (d *errorDialog) update(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Back, m.keys.Details) {
		m.dialog = nil
	}
	return nil
}

func (d *errorDialog) keys(m *Model) []key.Binding {
	return []key.Binding{withHelp(m.keys.Back, "dismiss")}
}

// wrap cuts a visible line into lines of at most width cells, at spaces
// where it can.
func wrap(s string, width int) []string {
	if width < 1 || lipgloss.Width(s) <= width {
		return []string{s}
	}
	lines := strings.Split(lipgloss.Wrap(s, width, " "), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ") // the space it broke at
	}
	return lines
}
