package ui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
)

// openDiff shows the diff of each target host (the selected ones, else
// the highlighted one): what deploying its configuration would change,
// /etc files included. A host's diff is read again only when its running
// system or its build changed since; the others are read in the
// background and appear as they come.
func (m *Model) openDiff() tea.Cmd {
	rows := m.table.targets()
	if len(rows) == 0 {
		return nil
	}
	var show []*fleet.HostDiff
	var need []*fleet.Node
	systems := map[string]string{}
	for _, r := range rows {
		name := r.node.Name
		if c, ok := m.diffs[name]; ok && r.state != nil && r.built != "" && c.current == r.state.Current && c.built == r.built {
			show = append(show, c.d)
			continue
		}
		show = append(show, &fleet.HostDiff{Host: name}) // "computing the diff of …"
		need = append(need, r.node)
		if r.built != "" {
			systems[name] = r.built
		}
	}
	m.diff.SetDiff(show...)
	m.screen = screenDiff
	if len(need) == 0 {
		return nil
	}
	if m.diffOp != 0 {
		m.stop(m.diffOp)
	}
	opts := fleet.DiffOptions{Files: true}
	if len(systems) == len(need) {
		opts.Systems = systems // the drift build's: nothing to build again
	}
	cmd := m.start(opHostDiffs, func(ctx context.Context) Events { return m.cfg.Engine.Diff(ctx, need, opts) })
	m.diffOp = m.nextOp
	return cmd
}

// applyHostDiff takes in one event of the diff screen's diff.
func (m *Model) applyHostDiff(e fleet.Event) {
	r := m.byName[e.Host()]
	switch e := e.(type) {
	case fleet.LogEvent:
		m.appendLog(e)
	case fleet.BuiltEvent:
		if r != nil {
			r.built, r.buildErr = e.System, nil
		}
	case fleet.DiffEvent:
		m.diffs[e.Host()] = cachedDiff{current: e.Diff.Current, built: e.Diff.New, d: e.Diff}
		m.diff.Put(e.Diff)
	case fleet.DoneEvent:
		if e.Err != nil {
			m.diff.Put(&fleet.HostDiff{Host: e.Host(), Error: e.Err.Error()})
		}
	}
}
