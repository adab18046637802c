package ui

import (
	"context"
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/ui/logview"
)

// journalLines is how far back a journal tail starts (journalctl -n).
const journalLines = 200

// journal is the journal tail being shown: its host, unit and lines.
type journal struct {
	host string
	unit string
	op   int
	buf  *logview.Buffers
}

// openJournal asks which unit to tail on the highlighted host (none: the
// whole journal), then shows it in the log pane.
func (m *Model) openJournal() tea.Cmd {
	r := m.table.current()
	if r == nil {
		return nil
	}
	in := textinput.New()
	in.Prompt = "unit: "
	in.Placeholder = "empty for the whole journal"
	in.CharLimit = 256
	in.SetStyles(m.st.Input())
	m.dialog = &unitDialog{host: r.node.Name, in: in}
	return m.dialog.(*unitDialog).in.Focus()
}

// startJournal tails host's journal (unit "" for all of it) into the
// log pane, replacing a tail already running.
func (m *Model) startJournal(host, unit string) tea.Cmd {
	m.stopJournal()
	node := m.cfg.Fleet.Node(host)
	if node == nil {
		return nil
	}
	j := &journal{host: host, unit: unit, buf: logview.NewBuffers(m.cfg.LogLines)}
	m.jr = j
	m.log.Focus(host)
	m.log.ShowJournal(j.buf, unit)
	m.screen = screenLogs
	cmd := m.start(opJournal, func(ctx context.Context) Events {
		return m.cfg.Engine.Journal(ctx, node, unit, journalLines)
	})
	j.op = m.nextOp
	return cmd
}

// stopJournal ends the tail (cancelling its remote journalctl).
func (m *Model) stopJournal() {
	if m.jr != nil {
		m.stop(m.jr.op)
		m.jr = nil
	}
}

// closeJournal stops the tail and shows the operations' logs again.
func (m *Model) closeJournal() tea.Cmd {
	if m.jr != nil {
		m.stopJournal()
		m.log.ShowLogs()
	}
	return nil
}

// toggleJournal is J in the log pane: the journal of the focused host,
// or back to the operations' logs.
func (m *Model) toggleJournal() tea.Cmd {
	if m.jr != nil {
		return m.closeJournal()
	}
	if h := m.log.Focused(); m.cfg.Fleet.Node(h) != nil {
		return m.startJournal(h, "")
	}
	return nil
}

// followJournal moves the tail to the host the log pane moved to ([ ]).
func (m *Model) followJournal() tea.Cmd {
	if m.jr == nil || m.log.Focused() == m.jr.host {
		return nil
	}
	return m.startJournal(m.log.Focused(), m.jr.unit)
}

// applyJournal takes in one event of the tail.
func (m *Model) applyJournal(e fleet.Event) {
	j := m.jr
	if j == nil {
		return
	}
	switch e := e.(type) {
	case fleet.LogEvent:
		j.buf.Append(j.host, e.Line)
	case fleet.DoneEvent:
		if e.Err != nil && !errors.Is(e.Err, fleet.ErrInterrupted) {
			j.buf.Append(j.host, "journal tail ended: "+e.Err.Error())
		}
	}
}

// unitDialog asks for the unit of a journal tail.
type unitDialog struct {
	host string
	in   textinput.Model
}

func (d *unitDialog) title() string { return "Journal of " + d.host }

func (d *unitDialog) lines(m *Model, width int) []string {
	d.in.SetWidth(max(width-8, 10))
	return []string{"journalctl -f -n 200, of one unit (-u) or of everything:", "", d.in.View()}
}

func (d *unitDialog) update(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Details):
		m.dialog = nil
		return m.startJournal(d.host, strings.TrimSpace(d.in.Value()))
	case key.Matches(msg, m.keys.Back):
		m.dialog = nil
		return nil
	}
	var cmd tea.Cmd
	d.in, cmd = d.in.Update(msg)
	return cmd
}

func (d *unitDialog) keys(m *Model) []key.Binding {
	return []key.Binding{withHelp(m.keys.Details, "tail it"), withHelp(m.keys.Back, "cancel")}
}
