package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
)

// historyScreen lists past operations from the history file, newest
// first, one line per operation.
type historyScreen struct {
	ops     []opSummary
	cursor  int
	top     int
	loading bool
	err     error
}

// opSummary is one operation as the history records it, host by host.
type opSummary struct {
	id, operator, action string
	at                   time.Time
	hosts                []string
	outcomes             map[string]int
	took                 time.Duration
}

// historyMsg is the history file as read.
type historyMsg struct {
	recs []fleet.HistoryRecord
	err  error
}

// openHistory shows the history screen and reads the file anew.
func (m *Model) openHistory() tea.Cmd {
	m.screen = screenHistory
	m.hist.loading = true
	dir := m.cfg.StateDir
	return func() tea.Msg {
		recs, err := fleet.ReadHistory(dir, fleet.HistoryFilter{})
		return historyMsg{recs, err}
	}
}

// setHistory groups the records by operation, newest first.
func (h *historyScreen) set(msg historyMsg) {
	h.loading, h.err = false, msg.err
	byID := map[string]*opSummary{}
	var order []*opSummary
	for _, r := range msg.recs {
		s := byID[r.OpID]
		if s == nil {
			action := r.Action
			if r.Kind == fleet.PlanRollback {
				action = "rollback"
			}
			s = &opSummary{id: r.OpID, operator: r.Operator, action: action, at: r.Time, outcomes: map[string]int{}}
			byID[r.OpID] = s
			order = append(order, s)
		}
		s.hosts = append(s.hosts, r.Host)
		s.outcomes[r.Outcome]++
		s.took = max(s.took, time.Duration(r.DurationMS)*time.Millisecond)
		if r.Time.Before(s.at) {
			s.at = r.Time
		}
	}
	h.ops = h.ops[:0]
	for i := len(order) - 1; i >= 0; i-- {
		h.ops = append(h.ops, *order[i])
	}
	h.cursor = max(0, min(h.cursor, len(h.ops)-1))
}

// key handles the history screen's keys.
func (h *historyScreen) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	page := max(m.height-chrome-2, 1)
	switch {
	case key.Matches(msg, k.Up):
		h.cursor--
	case key.Matches(msg, k.Down):
		h.cursor++
	case key.Matches(msg, k.PageUp):
		h.cursor -= page
	case key.Matches(msg, k.PageDown):
		h.cursor += page
	case key.Matches(msg, k.Top):
		h.cursor = 0
	case key.Matches(msg, k.Bottom):
		h.cursor = len(h.ops) - 1
	case key.Matches(msg, k.Refresh):
		return m.openHistory()
	case key.Matches(msg, k.OpenLogs):
		if h.cursor < len(h.ops) {
			return m.openOpLogs(h.ops[h.cursor])
		}
	case key.Matches(msg, k.Back):
		m.screen = screenFleet
	}
	h.cursor = max(0, min(h.cursor, len(h.ops)-1))
	return nil
}

// Columns of the history list.
var historyColumns = []column{
	{title: "WHEN", min: 11, ideal: 16},
	{title: "ACTION", min: 6, ideal: 8},
	{title: "HOSTS", min: 8, ideal: 30, drop: 3},
	{title: "OUTCOME", min: 10, ideal: 30, grow: true},
	{title: "TOOK", min: 5, ideal: 8, drop: 2},
	{title: "WHO", min: 6, ideal: 20, drop: 4},
	{title: "OPERATION", min: 10, ideal: 34, drop: 5},
}

// view draws the operations, the highlighted one marked.
func (h *historyScreen) view(m *Model, height int) string {
	switch {
	case h.err != nil:
		return m.st.Paint(m.st.HostFailed, "error: "+termtext.Visible(h.err.Error()))
	case h.loading && len(h.ops) == 0:
		return "reading the history…"
	case len(h.ops) == 0:
		return m.st.Paint(m.st.Muted, "No operations recorded yet in "+termtext.Visible(m.cfg.StateDir)+".")
	}
	widths := layout(historyColumns, m.width-markWidth)
	lines := []string{m.st.Paint(m.st.Title, strings.Repeat(" ", markWidth)+joinCells(titles(historyColumns), widths))}
	lines = append(lines, m.listLines(len(h.ops), h.cursor, &h.top, height-1, widths, func(i int) []string {
		o := h.ops[i]
		return []string{o.at.Local().Format("2006-01-02 15:04"), termtext.Visible(o.action),
			termtext.Visible(strings.Join(o.hosts, ",")), outcomeCounts(o.outcomes), formatTook(o.took),
			termtext.Visible(o.operator), termtext.Visible(o.id)}
	})...)
	return strings.Join(lines, "\n")
}

// outcomeCounts says how the operation's hosts ended: "2 done, 1 failed".
func outcomeCounts(c map[string]int) string {
	words := make([]string, 0, len(c))
	for w := range c {
		words = append(words, w)
	}
	sort.Strings(words)
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = fmt.Sprintf("%d %s", c[w], termtext.Visible(w))
	}
	return strings.Join(parts, ", ")
}

// formatTook renders a duration to the second, or under a second.
func formatTook(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}
