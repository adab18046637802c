package logview

import (
	"slices"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// horizontalStep is how far ← and → scroll a long line, in cells.
const horizontalStep = 8

// Update handles the pane's keys: moving (↑ ↓ pgup pgdn home end ← →),
// f to follow or stop, [ ] to change host, / n N to search and esc to
// clear a search. While the search input has the keyboard (Typing),
// every message goes to it. Keys it does not use are left to the parent.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	if m.typing {
		return m.updateInput(msg)
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	top, _ := m.window()
	rows := int64(max(m.bodyRows(), 1))
	switch {
	case key.Matches(k, m.keys.Up):
		m.setTop(top - 1)
	case key.Matches(k, m.keys.Down):
		m.setTop(top + 1)
	case key.Matches(k, m.keys.PageUp):
		m.setTop(top - rows)
	case key.Matches(k, m.keys.PageDown):
		m.setTop(top + rows)
	case key.Matches(k, m.keys.Top):
		_, first, _ := m.buffers().span(m.focus)
		m.setTop(first)
		if p := m.place(); p.follow { // all of it fits: stay at the top all the same
			m.pos[m.focus] = position{top: first}
		}
	case key.Matches(k, m.keys.Bottom):
		m.pos[m.focus] = position{follow: true}
	case key.Matches(k, m.keys.Follow):
		if m.place().follow {
			m.pos[m.focus] = position{top: top}
		} else {
			m.pos[m.focus] = position{follow: true}
		}
	case key.Matches(k, m.keys.Left):
		m.xoff = max(m.xoff-horizontalStep, 0)
	case key.Matches(k, m.keys.Right):
		m.xoff += horizontalStep
	case key.Matches(k, m.keys.PrevHost):
		m.step(-1)
	case key.Matches(k, m.keys.NextHost):
		m.step(1)
	case key.Matches(k, m.keys.Search):
		m.typing = true
		m.input.SetValue(m.query)
		m.input.CursorEnd()
		return m, m.input.Focus()
	case m.query != "" && key.Matches(k, m.keys.SearchNext):
		m.next(1)
	case m.query != "" && key.Matches(k, m.keys.SearchPrev):
		m.next(-1)
	case m.query != "" && key.Matches(k, m.keys.Back):
		m.clearSearch()
	}
	return m, nil
}

// updateInput handles a message while the search is typed: enter
// searches, esc gives up (the previous search stays), the rest edits.
func (m Model) updateInput(msg tea.Msg) (Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.Code {
		case tea.KeyEnter:
			m.typing = false
			m.input.Blur()
			m.query, m.match, m.notice = m.input.Value(), -1, ""
			if m.query != "" {
				m.first()
			}
			return m, nil
		case tea.KeyEscape:
			m.typing = false
			m.input.Blur()
			return m, nil
		}
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return m, cmd
}

// step moves the focus by d hosts, around the end of the list.
func (m *Model) step(d int) {
	if len(m.hosts) == 0 {
		return
	}
	i := slices.Index(m.hosts, m.focus) // -1 when gone: d=1 takes the first
	if i < 0 && d < 0 {
		i = 0
	}
	n := len(m.hosts)
	m.Focus(m.hosts[((i+d)%n+n)%n])
}
