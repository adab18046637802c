package ui

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/internal/termtext"
)

// refresh reads the state of rows' hosts, each row spinning until its
// host answered or failed.
func (m *Model) refresh(rows []*hostRow) tea.Cmd {
	var nodes []*fleet.Node
	for _, r := range rows {
		if r.reading {
			continue // its read in flight will do
		}
		r.reading = true
		nodes = append(nodes, r.node)
	}
	if len(nodes) == 0 {
		return nil
	}
	return m.start(opStates, func(ctx context.Context) Events { return m.cfg.Engine.ReadStates(ctx, nodes) })
}

// refreshAll is R: every host's state again, and a new build for the
// drift column (the configuration may have changed since). The outcomes
// of this session's rollouts leave the state column.
func (m *Model) refreshAll() tea.Cmd {
	for _, r := range m.rows {
		r.fresh = false
	}
	return tea.Batch(m.refresh(m.rows), m.buildForDrift())
}

// applyState takes in one event of a state read.
func (m *Model) applyState(e fleet.Event) tea.Cmd {
	r := m.byName[e.Host()]
	if r == nil {
		return nil
	}
	switch e := e.(type) {
	case fleet.StateEvent:
		r.state, r.readErr = e.State, nil
	case fleet.DoneEvent:
		r.reading = false
		if e.Err != nil {
			r.readErr = e.Err
			return m.hostKeyRefused(e.Err)
		}
	}
	return nil
}

// hostKeyRefused turns a refused host key into what the operator must
// see: an unknown key a prompt to trust it, a changed or revoked one an
// error pane (never a prompt: that is how a man in the middle looks).
func (m *Model) hostKeyRefused(err error) tea.Cmd {
	var ke *remote.HostKeyError
	if !errors.As(err, &ke) {
		return nil
	}
	if ke.Kind != remote.HostKeyUnknown {
		m.showError("Host key refused: "+ke.Kind.String(), err.Error())
		return nil
	}
	for _, q := range m.trustQ {
		if q.Addr == ke.Addr && q.Fingerprint == ke.Fingerprint {
			return nil // already asked about
		}
	}
	m.trustQ = append(m.trustQ, ke)
	m.nextTrust()
	return nil
}

// buildForDrift builds every host's system, for the drift column, unless
// a build for it is under way. Its gc roots are in Config.RootDir, for as
// long as the console runs: the diff screen reuses the systems.
func (m *Model) buildForDrift() tea.Cmd {
	for _, op := range m.ops {
		if op.kind == opDrift {
			return nil
		}
	}
	var nodes []*fleet.Node
	for _, r := range m.rows {
		r.building = true
		nodes = append(nodes, r.node)
	}
	dir := m.cfg.RootDir
	return m.start(opDrift, func(ctx context.Context) Events { return m.cfg.Engine.Build(ctx, nodes, dir, false) })
}

// applyDrift takes in one event of the drift build.
func (m *Model) applyDrift(e fleet.Event) {
	switch e := e.(type) {
	case fleet.LogEvent:
		m.appendLog(e)
	case fleet.BuiltEvent:
		if r := m.byName[e.Host()]; r != nil {
			r.built, r.buildErr = e.System, nil
		}
	case fleet.DoneEvent:
		if r := m.byName[e.Host()]; r != nil {
			r.building, r.buildErr = false, e.Err
			if e.Err != nil {
				r.built = ""
			}
		}
	case fleet.OpFinished:
		if e.Err != nil {
			m.say("build for the drift column: "+e.Err.Error(), true)
		}
	}
}

// lastOutcomesMsg is the history as read at start.
type lastOutcomesMsg struct {
	recs []fleet.HistoryRecord
	err  error
}

// loadLastOutcomes reads the history for each host's last outcome.
func (m *Model) loadLastOutcomes() tea.Cmd {
	dir := m.cfg.StateDir
	return func() tea.Msg {
		recs, err := fleet.ReadHistory(dir, fleet.HistoryFilter{})
		return lastOutcomesMsg{recs, err}
	}
}

// setLastOutcomes keeps each host's latest record, unless this session
// already has a newer outcome for it.
func (m *Model) setLastOutcomes(msg lastOutcomesMsg) tea.Cmd {
	if msg.err != nil {
		return m.say("history: "+msg.err.Error(), true)
	}
	for _, rec := range msg.recs {
		r := m.byName[rec.Host]
		if r == nil || (r.last != nil && r.last.at.After(rec.Time)) {
			continue
		}
		// The history file is text on disk like any other: shown visible.
		r.last = &outcome{word: termtext.Visible(rec.Outcome), cause: rec.Cause, at: rec.Time}
	}
	return nil
}
