package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// onKey routes a key: to the dialog on top, else to the text being typed
// (the filter, a search), else to the keys every screen shares, else to
// the screen.
func (m *Model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	if m.dialog != nil {
		cmd := m.dialog.update(m, msg)
		m.nextTrust() // a host key waiting is asked about once the dialog is closed
		return cmd
	}
	if m.screen == screenFleet && m.table.editing {
		return m.filterKey(msg)
	}
	if m.componentTyping() {
		return m.componentKey(msg)
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help) && m.screen != screenHelp:
		m.back, m.screen, m.helpTop = m.screen, screenHelp, 0
		return nil
	case key.Matches(msg, k.Pause, k.Abort) && m.running():
		return m.control(msg)
	case key.Matches(msg, k.History) && m.screen != screenHistory:
		return m.openHistory()
	}
	switch m.screen {
	case screenFleet:
		return m.fleetKey(msg)
	case screenGenerations:
		return m.gens.key(m, msg)
	case screenHistory:
		return m.hist.key(m, msg)
	case screenHelp:
		return m.helpKey(msg)
	case screenDetails:
		if key.Matches(msg, k.Back) {
			m.screen = screenFleet
		}
		return nil
	}
	return m.componentKey(msg)
}

// fleetKey handles the keys of the fleet screen.
func (m *Model) fleetKey(msg tea.KeyPressMsg) tea.Cmd {
	k, t := m.keys, &m.table
	page := max(m.height-chrome-2, 1)
	switch {
	case key.Matches(msg, k.Up):
		t.move(-1)
	case key.Matches(msg, k.Down):
		t.move(1)
	case key.Matches(msg, k.PageUp):
		t.move(-page)
	case key.Matches(msg, k.PageDown):
		t.move(page)
	case key.Matches(msg, k.Top):
		t.move(-len(t.visible))
	case key.Matches(msg, k.Bottom):
		t.move(len(t.visible))
	case key.Matches(msg, k.Select):
		if r := t.current(); r != nil {
			r.selected = !r.selected
		}
	case key.Matches(msg, k.SelectAll):
		for _, r := range t.visible {
			r.selected = true
		}
	case key.Matches(msg, k.ClearSelection):
		for _, r := range t.all {
			r.selected = false
		}
	case key.Matches(msg, k.Filter):
		t.editing = true
		return t.filter.Focus()
	case key.Matches(msg, k.Back) && m.prep != nil && m.prep.stage != stageConfirming:
		return m.cancelPrep()
	case key.Matches(msg, k.Back):
		if t.filter.Value() != "" {
			t.filter.SetValue("")
			t.apply()
		}
	case key.Matches(msg, k.Details):
		if t.current() != nil {
			m.screen = screenDetails
		}
	case key.Matches(msg, k.Generations):
		return m.openGenerations()
	case key.Matches(msg, k.Refresh):
		return m.refreshAll()
	case key.Matches(msg, k.Switch):
		return m.act(actSwitch)
	case key.Matches(msg, k.Canary):
		return m.act(actCanary)
	case key.Matches(msg, k.Boot):
		return m.act(actBoot)
	case key.Matches(msg, k.Test):
		return m.act(actTest)
	case key.Matches(msg, k.Rollback):
		return m.act(actRollback)
	default:
		return m.componentOpen(msg)
	}
	return nil
}

// filterKey handles a key while the filter is being typed: enter keeps
// it, esc clears it, anything else edits it and the list follows.
func (m *Model) filterKey(msg tea.KeyPressMsg) tea.Cmd {
	t := &m.table
	switch {
	case key.Matches(msg, m.keys.Details):
		t.editing = false
		t.filter.Blur()
		return nil
	case key.Matches(msg, m.keys.Back):
		t.editing = false
		t.filter.Blur()
		t.filter.SetValue("")
		t.apply()
		return nil
	}
	var cmd tea.Cmd
	t.filter, cmd = t.filter.Update(msg)
	t.apply()
	return cmd
}

// helpKey scrolls the help screen; esc (or ?) goes back.
func (m *Model) helpKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Back), key.Matches(msg, k.Help):
		m.screen = m.back
	case key.Matches(msg, k.Up):
		m.helpTop = max(m.helpTop-1, 0)
	case key.Matches(msg, k.Down):
		m.helpTop++
	case key.Matches(msg, k.PageUp):
		m.helpTop = max(m.helpTop-(m.height-chrome), 0)
	case key.Matches(msg, k.PageDown):
		m.helpTop += m.height - chrome
	case key.Matches(msg, k.Top):
		m.helpTop = 0
	}
	return nil
}
