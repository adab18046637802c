package logview

import (
	"slices"

	"charm.land/bubbles/v2/textinput"

	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// Model shows the log of one host, the focused one, from a Buffers:
// following new lines by default (the last line stays in view), or
// scrolled back through every line the ring keeps. [ and ] move to the
// previous and next host, / searches. The same Model shows a host's
// journal tail (ShowJournal), labelled as such.
type Model struct {
	st   *styles.Styles
	keys keys.Map

	logs    *Buffers
	journal *Buffers // shown instead of logs while set
	unit    string   // the journal's unit; "" for the whole journal

	hosts []string
	focus string
	// pos is each host's place in its buffer; a host without one follows.
	// It is shared by copies of the Model, as the Buffers are: the root
	// model keeps one Model and replaces it with what Update returns.
	pos map[string]position

	width, height int
	xoff          int // cells scrolled to the right

	input  textinput.Model
	typing bool   // the search input has the keyboard
	query  string // the search whose matches are marked; "" for none
	match  int64  // the line number of the current match; -1 for none
	notice string // what the last search step found, for the status line
}

// position is where a host's view stands: following the newest line, or
// with line number top as its first line.
type position struct {
	follow bool
	top    int64
}

// New returns a Model over logs, the per-host lines of the operations;
// it shows nothing until SetHosts or Focus names a host and SetSize
// gives it room.
func New(st *styles.Styles, km keys.Map, logs *Buffers) Model {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "search"
	in.SetStyles(st.Input())
	return Model{st: st, keys: km, logs: logs, pos: map[string]position{}, input: in, match: -1}
}

// SetSize gives the pane its width and height in cells, header and
// status line included.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = max(width, 0), max(height, 0)
	m.input.SetWidth(max(m.width-2, 1))
}

// SetHosts sets the hosts [ and ] move through, in their order (the
// fleet's). The focus stays on its host while it is listed, else moves
// to the first.
func (m *Model) SetHosts(hosts []string) {
	m.hosts = slices.Clone(hosts)
	if m.focus == "" || !slices.Contains(m.hosts, m.focus) {
		m.focus = ""
		if len(m.hosts) > 0 {
			m.focus = m.hosts[0]
		}
		m.leave()
	}
}

// Focus shows host's log (adding it to the hosts if it is not there), at
// the place it was left, following when it is new.
func (m *Model) Focus(host string) {
	if host == m.focus {
		return
	}
	if !slices.Contains(m.hosts, host) {
		m.hosts = append(m.hosts, host)
	}
	m.focus = host
	m.leave()
}

// leave forgets what belonged to the host left: the current match (a
// line number of its buffer) and the sideways scroll. The search itself
// stays, to be looked for in the next host's log with n and N.
func (m *Model) leave() {
	m.xoff, m.match, m.notice = 0, -1, ""
}

// Focused is the host whose log is shown; "" when there is none.
func (m Model) Focused() string { return m.focus }

// ShowJournal makes the pane show the journal tail in b (a Buffers the
// root model fills from fleet.Engine.Journal's events), labelled with
// unit ("" for the whole journal), following. ShowLogs goes back.
func (m *Model) ShowJournal(b *Buffers, unit string) {
	m.journal, m.unit = b, unit
	m.resetPlaces()
}

// ShowLogs makes the pane show the operations' logs again, following.
func (m *Model) ShowLogs() {
	m.journal, m.unit = nil, ""
	m.resetPlaces()
}

// Journal reports whether the pane shows a journal tail, and of which
// unit ("" for the whole journal).
func (m Model) Journal() (shown bool, unit string) { return m.journal != nil, m.unit }

// Typing reports whether the search input has the keyboard: every key
// goes to the pane then (q is a letter of the search, not quit), until
// enter or esc.
func (m Model) Typing() bool { return m.typing }

// Query is the search whose matches are marked, "" for none. While there
// is one, esc clears it (the pane handles esc); without one, esc is the
// parent's.
func (m Model) Query() string { return m.query }

// Following reports whether the focused host's view follows new lines.
func (m Model) Following() bool { return m.place().follow }

// resetPlaces puts every host back to following: the line numbers of
// one buffer mean nothing in the other.
func (m *Model) resetPlaces() {
	m.pos = map[string]position{}
	m.xoff = 0
	m.clearSearch()
}

func (m *Model) clearSearch() {
	m.typing, m.query, m.match, m.notice = false, "", -1, ""
	m.input.Blur()
}

// buffers is what the pane shows: the journal or the operations' logs.
func (m Model) buffers() *Buffers {
	if m.journal != nil {
		return m.journal
	}
	return m.logs
}

// place is where the focused host's view stands.
func (m Model) place() position {
	p, ok := m.pos[m.focus]
	if !ok {
		return position{follow: true}
	}
	return p
}

// bodyRows is how many log lines the pane shows: its height less the
// header and, while a search is typed or shown, the status line.
func (m Model) bodyRows() int {
	rows := m.height - 1
	if m.typing || m.query != "" {
		rows--
	}
	return max(rows, 0)
}

// window returns the numbers of the first line shown and of the line
// after the last, for the focused host as its buffer is now.
func (m Model) window() (top, end int64) {
	_, first, end := m.buffers().span(m.focus)
	rows := int64(m.bodyRows())
	p := m.place()
	last := max(first, end-rows) // the top that shows the newest line last
	if p.follow {
		return last, min(last+rows, end)
	}
	top = min(max(p.top, first), last)
	return top, min(top+rows, end)
}

// setTop scrolls the focused host's view to line top; reaching the
// newest lines turns following on, as in less +F.
func (m *Model) setTop(top int64) {
	_, first, end := m.buffers().span(m.focus)
	last := max(first, end-int64(m.bodyRows()))
	top = min(max(top, first), last)
	m.pos[m.focus] = position{follow: top >= last, top: top}
}
