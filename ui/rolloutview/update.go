package rolloutview

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Update handles the pane's keys: moving the highlight (↑ ↓ pgup pgdn
// home end; f puts it back on the first host at work), p to pause or
// resume and x to abort (twice: stop waiting for the hosts in flight).
// p and x call the Control at once (its calls never block); the events
// that follow say when they took effect. Other keys are the parent's.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	page := max(m.rowsShown()-1, 1)
	switch {
	case key.Matches(k, m.keys.Up):
		m.move(m.cursor - 1)
	case key.Matches(k, m.keys.Down):
		m.move(m.cursor + 1)
	case key.Matches(k, m.keys.PageUp):
		m.move(m.cursor - page)
	case key.Matches(k, m.keys.PageDown):
		m.move(m.cursor + page)
	case key.Matches(k, m.keys.Top):
		m.move(0)
	case key.Matches(k, m.keys.Bottom):
		m.move(len(m.rows) - 1)
	case key.Matches(k, m.keys.Follow):
		m.follow = true
		m.followWork()
	case key.Matches(k, m.keys.Pause):
		m.pause()
	case key.Matches(k, m.keys.Abort):
		m.abort()
	}
	return m, nil
}

// move puts the highlight on row i (within the rows) and stops following.
func (m *Model) move(i int) {
	m.cursor = min(max(i, 0), max(len(m.rows)-1, 0))
	m.follow = false
	m.scroll()
}

// pause pauses a running rollout, or resumes a paused one; nothing once
// it finished or was aborted (the engine ignores it then too).
func (m *Model) pause() {
	if m.ctl == nil || !m.Running() || m.aborts > 0 {
		return
	}
	if m.paused {
		m.ctl.Resume()
		m.asked = "resuming"
	} else {
		m.ctl.Pause()
		m.asked = "pausing"
	}
}

// abort asks the rollout to abort: the first time no new host starts,
// the second time it stops waiting for the hosts in flight.
func (m *Model) abort() {
	if m.ctl == nil || !m.Running() || m.abortsCalled >= 2 {
		return
	}
	m.ctl.Abort()
	m.abortsCalled++
	m.asked = "aborting"
	if m.abortsCalled == 2 {
		m.asked = "stopping the wait"
	}
}

// scroll moves the rows in view so that the highlight is among them.
func (m *Model) scroll() {
	n := m.rowsShown()
	if n <= 0 {
		return
	}
	if m.cursor < m.top {
		m.top = m.cursor
	}
	if m.cursor >= m.top+n {
		m.top = m.cursor - n + 1
	}
	m.top = max(min(m.top, len(m.rows)-n), 0)
}
