package ui

import (
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/ui/diffview"
	"nixdeck/ui/logview"
	"nixdeck/ui/rolloutview"
)

// panes are the scrolling components the screens show (ui/logview,
// ui/diffview, ui/rolloutview) and what feeds them: the log lines of
// every operation by host, the diffs read for the diff screen.
type panes struct {
	logs *logview.Buffers // every operation's lines, a ring per host
	log  logview.Model    // the logs screen, and the rollout screen's lower half
	diff diffview.Model   // the diff screen
	// diffs are the diffs read for the diff screen, each kept while its
	// host runs the same system and the same build is the new one.
	diffs  map[string]cachedDiff
	diffOp int
	gen    diffview.Model // the generations screen's lower half
	genFor *fleet.HostDiff
	opLog  logview.Model // a past operation's logs
	rv     rolloutview.Model
	jr     *journal // the journal tail shown, nil for none
	// logFocused: on the rollout screen, the log pane has the keys
	// rather than the rollout's rows (tab switches).
	logFocused bool
}

// cachedDiff is a host's diff with what it was computed from.
type cachedDiff struct {
	current, built string
	d              *fleet.HostDiff
}

// opLogName is the name in the log buffers of an operation's own lines
// (the build's output): no node is called that, as node names cannot
// hold parentheses.
const opLogName = "(build)"

// initViews makes the panes.
func (m *Model) initViews() {
	m.logs = logview.NewBuffers(m.cfg.LogLines)
	m.log = logview.New(m.st, m.keys, m.logs)
	names := make([]string, 0, len(m.rows)+1)
	for _, r := range m.rows {
		names = append(names, r.node.Name)
	}
	m.log.SetHosts(append(names, opLogName))
	m.diff = diffview.New(m.st, m.keys)
	m.gen = diffview.New(m.st, m.keys)
	m.opLog = logview.New(m.st, m.keys, logview.NewBuffers(m.cfg.LogLines))
	m.diffs = map[string]cachedDiff{}
	m.initRolloutPane()
}

// sizePanes gives each pane the room the current screen leaves it.
func (m *Model) sizePanes(bodyH int) {
	m.diff.SetSize(m.width, bodyH)
	m.opLog.SetSize(m.width, bodyH)
	if m.screen == screenRollout {
		top := m.rolloutHeight(bodyH)
		m.sizeRolloutPane(m.width, top)
		m.log.SetSize(m.width, bodyH-top)
	} else {
		m.log.SetSize(m.width, bodyH)
	}
}

// appendLog adds what e says to its host's log, as the log file says it
// (an operation's own lines go under opLogName), stamped with the time.
func (m *Model) appendLog(e fleet.Event) {
	tag, text, ok := fleet.LogLine(e)
	if !ok {
		return
	}
	host := e.Host()
	if host == "" {
		host = opLogName
	}
	m.logs.Append(host, e.At().Local().Format(time.TimeOnly)+" "+tag+" "+text)
}

// componentView draws the screens made of panes.
func (m *Model) componentView(height int) (string, bool) {
	switch m.screen {
	case screenLogs:
		return m.log.View(), true
	case screenDiff:
		return m.diff.View(), true
	case screenOpLogs:
		return m.opLog.View(), true
	case screenRollout:
		return m.rolloutPaneView() + "\n" + m.log.View(), true
	}
	return "", false
}

// componentTyping reports whether a pane's search input has the keys.
func (m *Model) componentTyping() bool {
	switch m.screen {
	case screenLogs:
		return m.log.Typing()
	case screenRollout:
		return m.logFocused && m.log.Typing()
	case screenOpLogs:
		return m.opLog.Typing()
	}
	return false
}

// componentOpen opens a pane's screen from the fleet screen.
func (m *Model) componentOpen(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Diff):
		return m.openDiff()
	case key.Matches(msg, k.Logs):
		return m.openLogs()
	case key.Matches(msg, k.Journal):
		return m.openJournal()
	case key.Matches(msg, k.NextPane) && m.ro != nil:
		m.screen = screenRollout
	}
	return nil
}

// componentKey hands a key to the pane of the screen; esc leaves it
// unless the pane uses it (to clear a search).
func (m *Model) componentKey(msg tea.KeyPressMsg) tea.Cmd {
	var cmd tea.Cmd
	back := key.Matches(msg, m.keys.Back)
	switch m.screen {
	case screenLogs:
		if back && m.log.Query() == "" && !m.log.Typing() {
			m.screen = screenFleet
			return m.closeJournal()
		}
		if key.Matches(msg, m.keys.Journal) && !m.log.Typing() {
			return m.toggleJournal()
		}
		m.log, cmd = m.log.Update(msg)
		return tea.Batch(cmd, m.followJournal())
	case screenDiff:
		if back {
			m.screen = screenFleet
			return nil
		}
		m.diff, cmd = m.diff.Update(msg)
	case screenOpLogs:
		if back && m.opLog.Query() == "" && !m.opLog.Typing() {
			m.screen = screenHistory
			return nil
		}
		m.opLog, cmd = m.opLog.Update(msg)
	case screenRollout:
		return m.rolloutPaneKey(msg)
	}
	return cmd
}

// componentKeys are the footer's keys on the screens made of panes.
func (m *Model) componentKeys() []key.Binding {
	k := m.keys
	logKeys := []key.Binding{k.Up, k.Down, k.Follow, k.Search, k.PrevHost, k.NextHost}
	switch m.screen {
	case screenLogs:
		return append(logKeys, k.Journal, k.Back)
	case screenOpLogs:
		return append(logKeys, k.Back)
	case screenDiff:
		return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Left, k.Right, withHelp(k.NextPane, "next host"), k.Back}
	case screenRollout:
		if m.logFocused {
			return append(logKeys, withHelp(k.NextPane, "rollout rows"), k.Back)
		}
		return []key.Binding{k.Up, k.Down, k.Follow, withHelp(k.NextPane, "log pane"), k.Back}
	}
	return nil
}

// openLogs shows the log of the highlighted host.
func (m *Model) openLogs() tea.Cmd {
	if r := m.table.current(); r != nil {
		m.log.Focus(r.node.Name)
	}
	m.screen = screenLogs
	return nil
}
