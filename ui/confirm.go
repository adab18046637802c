package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// confirmDialog names the action, the hosts and what would change on
// each, and waits for y; every other answer cancels, and nothing was
// touched until then.
type confirmDialog struct {
	p   *preparation
	top int // first host row shown, when they do not all fit
}

func (d *confirmDialog) title() string {
	p := d.p
	switch p.act {
	case actRollback:
		return fmt.Sprintf("Roll back %s to the previous generation?", plural(len(p.nodes), "host"))
	case actRollbackTo:
		return fmt.Sprintf("Roll back %s to generation %d?", nodeNames(p.nodes), p.to)
	}
	return fmt.Sprintf("%s %s?", verbs[p.act], plural(len(p.nodes), "host"))
}

// Columns of the per-host summary.
var confirmColumns = []column{
	{title: "HOST", min: 6, ideal: 16},
	{title: "UP", min: 3, ideal: 4},
	{title: "DOWN", min: 4, ideal: 5},
	{title: "ADDED", min: 5, ideal: 6},
	{title: "REMOVED", min: 7, ideal: 8},
	{title: "SIZE", min: 9, ideal: 11, drop: 2},
	{title: "REBOOT", min: 6, ideal: 20, grow: true, drop: 1},
}

func (d *confirmDialog) lines(m *Model, width int) []string {
	p := d.p
	plan := p.plan(m)
	out := wrap(planLine(plan), width)
	if p.act.deploys() {
		if w := m.cfg.Fleet.CacheUnusedWarning(p.nodes, p.cache); w != "" {
			for _, l := range wrap("warning: "+termtext.Visible(w), width) {
				out = append(out, m.st.Paint(m.st.HostWarning, l))
			}
		}
	}
	out = append(out, "")
	widths := layout(confirmColumns, width)
	out = append(out, m.st.Paint(m.st.Title, joinCells(titles(confirmColumns), widths)))
	rows := make([]string, 0, len(p.nodes))
	for _, n := range p.nodes {
		rows = append(rows, joinCells(summaryCells(n.Name, p.diffs[n.Name], p.errs[n.Name]), widths))
	}
	// The question and the keys stay; the hosts scroll between.
	room := max(m.height-chrome-4-len(out)-3, 1)
	d.top = max(0, min(d.top, len(rows)-room))
	shown := rows[d.top:min(len(rows), d.top+room)]
	out = append(out, shown...)
	if len(shown) < len(rows) {
		out = append(out, m.st.Paint(m.st.Muted, fmt.Sprintf("hosts %d-%d of %d (↑/↓ to scroll)", d.top+1, d.top+len(shown), len(rows))))
	}
	return append(out, "", m.st.Paint(m.st.HostWarning, "y")+" proceeds · n or esc cancels; nothing has been changed yet")
}

// planLine says what the rollout will do: action, waves, failure policy.
func planLine(p fleet.Plan) string {
	if p.Kind == fleet.PlanRollback {
		return fmt.Sprintf("rollback (switch) on %s, all at once, %d at a time; each protected by magic rollback",
			plural(len(p.Nodes), "host"), max(p.Policy.Parallel, 1))
	}
	action := string(p.Action)
	if action == "" {
		action = p.Policy.Action
	}
	parts := []string{fmt.Sprintf("%s on %s", action, plural(len(p.Nodes), "host"))}
	if len(p.Canary) > 0 {
		parts = append(parts, fmt.Sprintf("canary %s first, then waves of %s", nodeNames(p.Canary), p.Policy.Batch))
	} else {
		parts = append(parts, "one wave")
	}
	parts = append(parts, fmt.Sprintf("%d at a time", max(p.Policy.Parallel, 1)),
		fmt.Sprintf("halt after %s", plural(p.Policy.MaxFailures+1, "failed host")))
	return strings.Join(parts, "; ")
}

// summaryCells is one host's line: its package changes by kind, the
// closure's growth and whether it needs a reboot, or why there is no diff.
func summaryCells(host string, d *fleet.HostDiff, err error) []string {
	name := termtext.Visible(host)
	switch {
	case err != nil:
		return []string{name, "cannot: " + cause(host, err)}
	case d == nil || d.Diff == nil:
		return []string{name, "no diff"}
	}
	cd := d.Diff
	up, down := 0, 0
	for _, c := range cd.Versions {
		switch c.State {
		case "U":
			up++
		case "D":
			down++
		}
	}
	reboot := "no"
	if d.RebootNeeded() {
		reboot = "yes: " + strings.Join(d.RebootFor, ", ")
	}
	if d.Current == d.New {
		reboot = "no (runs it already)"
	}
	return []string{name, fmt.Sprint(up), fmt.Sprint(down), fmt.Sprint(len(cd.Added)), fmt.Sprint(len(cd.Removed)),
		nix.FormatSizeDelta(cd.NewSize - cd.OldSize), reboot}
}

func (d *confirmDialog) update(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Yes):
		m.dialog = nil
		p := m.prep
		m.prep = nil
		return m.startRollout(p)
	case key.Matches(msg, m.keys.Up):
		d.top = max(d.top-1, 0)
		return nil
	case key.Matches(msg, m.keys.Down):
		d.top++
		return nil
	case key.Matches(msg, m.keys.No, m.keys.Quit):
		m.dialog = nil
		return m.cancelPrep()
	}
	return nil // only y proceeds, only n, esc or q cancels: a stray key does neither
}

func (d *confirmDialog) keys(m *Model) []key.Binding {
	return []key.Binding{withHelp(m.keys.Yes, "proceed"), withHelp(m.keys.No, "cancel"), m.keys.Up, m.keys.Down}
}
