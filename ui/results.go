package ui

import (
	"fmt"

	tea "charm.land/bubbletea/v2"

	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// onResult takes in the result of a one-shot command.
func (m *Model) onResult(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case prepDirMsg:
		return m.prepBuild(msg)
	case lastOutcomesMsg:
		return m.setLastOutcomes(msg)
	case historyMsg:
		m.hist.set(msg)
	case opLogsMsg:
		return m.showOpLogs(msg)
	case trustedMsg:
		return m.trusted(msg)
	case removeFailedMsg:
		return m.say(fmt.Sprintf("gc roots left behind: %v", msg.err), true)
	}
	return nil
}

// activity says in the title what is under way: an action being
// prepared, or the rollout.
func (m *Model) activity() string {
	if p := m.prep; p != nil {
		switch {
		case p.stage == stageBuilding && p.push != nil:
			return fmt.Sprintf("%s: pushing to %s: %d/%d paths, %s (esc cancels)", verbs[p.act],
				termtext.Visible(p.push.Cache), p.push.Paths, p.push.PathsTotal, nix.FormatSize(p.push.Bytes))
		case p.stage == stageBuilding:
			return fmt.Sprintf("%s: building %s (esc cancels)", verbs[p.act], plural(len(p.nodes), "host"))
		case p.stage == stageDiffing:
			return fmt.Sprintf("%s: reading what changes (esc cancels)", verbs[p.act])
		}
		return verbs[p.act] + ": waiting for your answer"
	}
	if ro := m.ro; ro != nil && !ro.finished {
		s := fmt.Sprintf("%s running (tab shows it)", ro.verb)
		if ro.paused {
			s += ", paused"
		}
		return s
	}
	return ""
}
