package ui

import (
	"nixdeck/ui/internal/cells"

	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"nixdeck/internal/termtext"
)

// status is the line above the footer: what just happened or failed,
// until it expires or the next one replaces it.
type status struct {
	text string
	err  bool
	seq  int
}

// statusExpiredMsg clears the status line if it still says message seq.
type statusExpiredMsg struct{ seq int }

// statusFor is how long a status message stays.
const statusFor = 8 * time.Second

// say puts text (console words and host text, made visible here) on
// the status line and returns the command that clears it later.
func (m *Model) say(text string, isErr bool) tea.Cmd {
	m.status.seq++
	m.status.text, m.status.err = termtext.Visible(text), isErr
	m.redraw.now()
	seq := m.status.seq
	return m.after(statusFor, statusExpiredMsg{seq})
}

// statusLine draws the status line; an error says so in words.
func (m *Model) statusLine() string {
	if m.status.text == "" {
		return ""
	}
	if m.status.err {
		return m.st.Paint(m.st.HostFailed, cells.Fit("error: "+m.status.text, m.width))
	}
	return (cells.Fit(m.status.text, m.width))
}

// footerLine lists the keys that apply now, as many as fit.
func (m *Model) footerLine() string {
	h := help.New()
	h.SetWidth(m.width)
	h.Styles.ShortKey, h.Styles.ShortDesc = m.st.Title, m.st.Muted
	h.Styles.ShortSeparator, h.Styles.Ellipsis = m.st.Muted, m.st.Muted
	return h.ShortHelpView(m.footerKeys())
}

// footerKeys are the bindings that apply on the current screen or
// dialog, in the order the footer shows them.
func (m *Model) footerKeys() []key.Binding {
	k := m.keys
	if m.dialog != nil {
		return m.dialog.keys(m)
	}
	if m.table.editing && m.screen == screenFleet {
		return []key.Binding{withHelp(k.Details, "keep filter"), withHelp(k.Back, "clear filter")}
	}
	var ks []key.Binding
	switch m.screen {
	case screenFleet:
		acts := []key.Binding{k.Switch, k.Canary, k.Boot, k.Test, k.Rollback}
		for i := range acts {
			// One change at a time: while one is prepared or runs, the
			// others do not apply (pressed, they say why).
			acts[i].SetEnabled(m.prep == nil && !m.running())
		}
		ks = append([]key.Binding{k.Up, k.Down, k.Select, k.SelectAll, k.Filter, k.Details, k.Diff, k.Generations, k.Logs}, acts...)
		ks = append(ks, k.Refresh, k.History)
		if m.prep != nil && m.prep.stage != stageConfirming {
			ks = append([]key.Binding{withHelp(k.Back, "cancel "+strings.ToLower(verbs[m.prep.act]))}, ks...)
		}
	case screenGenerations:
		ks = []key.Binding{k.Up, k.Down, withHelp(k.PageDown, "scroll the diff"), k.RollbackTo, k.Back}
	case screenHistory:
		ks = []key.Binding{k.Up, k.Down, k.OpenLogs, k.Refresh, k.Back}
	case screenHelp, screenDetails:
		ks = []key.Binding{k.Back}
	default:
		ks = m.componentKeys()
	}
	if m.running() {
		ks = append(ks, k.Pause, k.Abort)
	}
	return append(ks, k.Help, k.Quit)
}

// withHelp is b described as desc, for a screen where the key does that.
func withHelp(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// helpView lists every key, group by group, generated from the key map:
// two columns when the terminal is wide enough.
func (m *Model) helpView(height int) string {
	var blocks []string
	for _, g := range m.keys.Groups() {
		lines := []string{m.st.Paint(m.st.Title, g.Title)}
		for _, b := range g.Keys {
			lines = append(lines, "  "+m.st.Paint(m.st.Title, cells.Fit(b.Help().Key, 12))+" "+b.Help().Desc)
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	intro := m.st.Paint(m.st.Muted, "Keys of every screen; the footer shows those that apply now. esc goes back.")
	colW := 0
	for _, b := range blocks {
		for _, l := range strings.Split(b, "\n") {
			colW = max(colW, ansi.StringWidth(l))
		}
	}
	if m.width < 2*colW+4 {
		return m.helpScroll(intro+"\n\n"+strings.Join(blocks, "\n\n"), height)
	}
	// Two columns: the groups in order, down the left, then the right.
	half := (len(blocks) + 1) / 2
	left := strings.Split(strings.Join(blocks[:half], "\n\n"), "\n")
	right := strings.Split(strings.Join(blocks[half:], "\n\n"), "\n")
	var out []string
	for i := 0; i < max(len(left), len(right)); i++ {
		l, r := "", ""
		if i < len(left) {
			l = left[i]
		}
		if i < len(right) {
			r = right[i]
		}
		out = append(out, cells.Fit(l, colW+4)+r)
	}
	return m.helpScroll(intro+"\n\n"+strings.Join(out, "\n"), height)
}

// helpScroll shows height lines of the help from where it was scrolled to.
func (m *Model) helpScroll(s string, height int) string {
	lines := strings.Split(s, "\n")
	m.helpTop = max(0, min(m.helpTop, len(lines)-height))
	return strings.Join(lines[m.helpTop:], "\n")
}
