package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/ui/rolloutview"
)

// initRolloutPane makes the rollout pane, empty until a rollout starts.
func (m *Model) initRolloutPane() { m.rv = rolloutview.New(m.st, m.keys) }

// rolloutStarted shows the new rollout: its rows above, the log of the
// host under their cursor below.
func (m *Model) rolloutStarted(policy fleet.Deploy) {
	m.rv = rolloutview.New(m.st, m.keys)
	m.rv.SetControl(m.ro.handle)
	m.rv.SetBudget(policy.MaxFailures)
	m.screen, m.logFocused = screenRollout, false
	if len(m.ro.nodes) > 0 {
		m.log.Focus(m.ro.nodes[0].Name) // until the rows say which host is at work
	}
}

// rolloutEvent gives the pane an event of the rollout.
func (m *Model) rolloutEvent(e fleet.Event) {
	m.rv.Apply(e)
	m.appendLog(e)
}

// rolloutHeight is how much of the body the rollout's rows get; the log
// pane has the rest.
func (m *Model) rolloutHeight(bodyH int) int { return max(bodyH*3/5, min(bodyH, 4)) }

// sizeRolloutPane gives the rows their room.
func (m *Model) sizeRolloutPane(w, h int) { m.rv.SetSize(w, h) }

// rolloutPaneView draws the rows, their times read against the console's
// clock; the log pane follows the host under their cursor.
func (m *Model) rolloutPaneView() string {
	m.rv.SetNow(m.cfg.Now())
	if h := m.rv.Focused(); h != "" && !m.logFocused {
		m.log.Focus(h)
	}
	return m.rv.View()
}

// rolloutPaneKey handles a key of the rollout screen: tab gives the keys
// to the log pane or back to the rows, esc goes back to the fleet.
func (m *Model) rolloutPaneKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.NextPane):
		m.logFocused = !m.logFocused
		return nil
	case key.Matches(msg, k.Back) && !(m.logFocused && m.log.Query() != ""):
		m.screen = screenFleet
		return nil
	}
	var cmd tea.Cmd
	if m.logFocused {
		m.log, cmd = m.log.Update(msg)
	} else {
		m.rv, cmd = m.rv.Update(msg)
	}
	return cmd
}

// control hands p or x to the rollout pane, whichever screen is shown:
// it calls the rollout's Pause, Resume or Abort and shows what was asked.
func (m *Model) control(msg tea.KeyPressMsg) tea.Cmd {
	ro := m.ro
	var text string
	switch {
	case key.Matches(msg, m.keys.Pause) && ro.paused:
		text = "resuming: hosts start again"
	case key.Matches(msg, m.keys.Pause):
		text = "pausing: no new host starts; those in flight go on (p resumes)"
	case ro.abortKeys == 0:
		ro.abortKeys++
		text = "aborting: no new host starts; those in flight finish or roll back (x again stops waiting)"
	default:
		ro.abortKeys++
		text = "no longer waiting for the hosts in flight; they finish or roll back on their own"
	}
	m.rv, _ = m.rv.Update(msg)
	return m.say(text, false)
}
