// Package diffview is the console's diff pane: what a deploy would change
// on one host (the package diff, the closure size, the reboot note and
// the changed /etc files with their line diffs), scrollable, with tab to
// go through the hosts when several are shown.
package diffview

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/ui/internal/cells"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// Model shows one host's diff at a time out of those it was given. A
// host's diff is rendered once, when it is set, so scrolling and redraws
// cost only the lines in view.
type Model struct {
	st   *styles.Styles
	keys keys.Map
	vp   viewport.Model

	hosts []string          // in the order given
	diffs map[string]*entry // by host
	focus string            // the host shown; "" when there is none
	tops  map[string]int    // each host's scroll position, kept over tab

	width, height int
}

// entry is one host's diff, its rendered lines and the widest of them.
type entry struct {
	d     *fleet.HostDiff
	lines []string
	width int
}

func newEntry(d *fleet.HostDiff, st *styles.Styles) *entry {
	e := &entry{d: d, lines: content(d, st)}
	for _, l := range e.lines {
		e.width = max(e.width, cells.Width(l))
	}
	return e
}

// New returns an empty pane; SetDiff gives it hosts and SetSize room.
func New(st *styles.Styles, km keys.Map) Model {
	vp := viewport.New()
	// The console's keys, not the viewport's pager keys: b, d, f and
	// space mean boot, diff, follow and select here.
	vp.KeyMap = viewport.KeyMap{Up: km.Up, Down: km.Down, PageUp: km.PageUp, PageDown: km.PageDown,
		Left: km.Left, Right: km.Right, HalfPageUp: key.NewBinding(key.WithDisabled()), HalfPageDown: key.NewBinding(key.WithDisabled())}
	vp.MouseWheelEnabled = false
	return Model{st: st, keys: km, vp: vp, diffs: map[string]*entry{}, tops: map[string]int{}}
}

// SetSize gives the pane its width and height in cells, header included.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = max(width, 0), max(height, 0)
	m.vp.SetWidth(m.width)
	m.vp.SetHeight(max(height-1, 0))
	m.vp.SetYOffset(m.vp.YOffset()) // within the new bounds
}

// SetDiff shows the diffs of these hosts, in this order, replacing what
// was shown. A HostDiff with neither Diff nor Error is one still being
// computed ("computing the diff of …"); Put replaces it when it is done.
// The focus stays on its host while it is among them.
func (m *Model) SetDiff(diffs ...*fleet.HostDiff) {
	m.hosts, m.diffs = nil, map[string]*entry{}
	for _, d := range diffs {
		if _, dup := m.diffs[d.Host]; !dup {
			m.hosts = append(m.hosts, d.Host)
		}
		m.diffs[d.Host] = newEntry(d, m.st)
	}
	for h := range m.tops {
		if m.diffs[h] == nil {
			delete(m.tops, h)
		}
	}
	focus := m.focus
	if m.diffs[focus] == nil {
		focus = ""
		if len(m.hosts) > 0 {
			focus = m.hosts[0]
		}
	}
	m.focus = ""
	m.show(focus)
}

// Put sets one host's diff, adding the host after the others when it is
// new; the pane stays where it is.
func (m *Model) Put(d *fleet.HostDiff) {
	if m.diffs[d.Host] == nil {
		m.hosts = append(m.hosts, d.Host)
	}
	m.diffs[d.Host] = newEntry(d, m.st)
	switch m.focus {
	case d.Host:
		top := m.vp.YOffset()
		m.vp.SetContentLines(slices.Clone(m.diffs[d.Host].lines))
		m.vp.SetYOffset(top)
	case "":
		m.show(d.Host)
	}
}

// Focus shows host's diff, if the pane has it.
func (m *Model) Focus(host string) {
	if m.diffs[host] != nil {
		m.show(host)
	}
}

// Focused is the host whose diff is shown; "" when there is none.
func (m Model) Focused() string { return m.focus }

// Hosts are the hosts the pane has diffs of, in their order.
func (m Model) Hosts() []string { return slices.Clone(m.hosts) }

// show makes host the one shown, where it was left.
func (m *Model) show(host string) {
	if m.focus != "" {
		m.tops[m.focus] = m.vp.YOffset()
	}
	m.focus = host
	var lines []string
	if e := m.diffs[host]; e != nil {
		lines = slices.Clone(e.lines) // the viewport splits and keeps what it is given
	}
	m.vp.SetContentLines(lines)
	m.vp.SetXOffset(0)
	m.vp.SetYOffset(m.tops[host])
}

// Update scrolls (↑ ↓ pgup pgdn home end ← →) and, with several hosts,
// goes to the next one on tab. Other keys and messages are the parent's;
// with one host, tab is too.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	switch {
	case key.Matches(k, m.keys.NextPane):
		if len(m.hosts) > 1 {
			i := slices.Index(m.hosts, m.focus)
			m.show(m.hosts[(i+1)%len(m.hosts)])
		}
	case key.Matches(k, m.keys.Top):
		m.vp.GotoTop()
	case key.Matches(k, m.keys.Bottom):
		m.vp.GotoBottom()
	default:
		m.vp, _ = m.vp.Update(k)
	}
	return m, nil
}

// View renders the header and the lines in view, exactly the size given.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	header := cells.Fit(m.header(), m.width)
	if m.vp.Height() == 0 {
		return header
	}
	return header + "\n" + cells.Lines(m.vp.View(), m.width, m.vp.Height())
}

// header is "web01 · diff · host 1/3 (tab) · lines 1-23 of 140".
func (m Model) header() string {
	if m.focus == "" {
		return m.st.Paint(m.st.Title, "diff: no host")
	}
	parts := []string{"diff"}
	if len(m.hosts) > 1 {
		parts = append(parts, fmt.Sprintf("host %d/%d (tab)", slices.Index(m.hosts, m.focus)+1, len(m.hosts)))
	}
	e := m.diffs[m.focus]
	if e.d.RebootNeeded() {
		parts = append(parts, "reboot needed")
	}
	if total := m.vp.TotalLineCount(); total > m.vp.Height() {
		top := m.vp.YOffset()
		parts = append(parts, fmt.Sprintf("lines %d-%d of %d", top+1, min(top+m.vp.Height(), total), total))
	}
	// The viewport cuts long lines without a mark: say there is more.
	switch x := m.vp.XOffset(); {
	case x > 0 && e.width > x+m.width:
		parts = append(parts, fmt.Sprintf("from column %d (← →)", x+1))
	case x > 0:
		parts = append(parts, fmt.Sprintf("from column %d (←)", x+1))
	case e.width > m.width:
		parts = append(parts, "wide lines (→)")
	}
	return m.st.Paint(m.st.Title, termtext.Visible(m.focus)) + " " + m.st.Paint(m.st.Muted, "· "+strings.Join(parts, " · "))
}
