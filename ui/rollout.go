package ui

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
)

// rollout is the rollout the console started: its handle, what it is,
// and what its events said so far.
type rollout struct {
	handle  Rollout
	verb    string
	kind    string
	nodes   []*fleet.Node
	rootDir string
	paused  bool
	aborts  int // AbortRequested events seen
	// abortKeys counts the presses of x, ahead of the events.
	abortKeys int
	halted    string
	finished  bool
	err       error
	outcomes  map[string]int
}

// running reports whether a rollout runs: pause, abort and the quit
// question apply.
func (m *Model) running() bool { return m.ro != nil && !m.ro.finished }

// startRollout starts the confirmed action and shows its rows.
func (m *Model) startRollout(p *preparation) tea.Cmd {
	plan := p.plan(m)
	ro := &rollout{verb: verbs[p.act], kind: plan.Kind, nodes: p.nodes, rootDir: p.rootDir, outcomes: map[string]int{}}
	for _, n := range p.nodes {
		r := m.byName[n.Name]
		r.phase, r.rollingBack = fleet.PhaseQueued, plan.Kind == fleet.PlanRollback
	}
	m.ro = ro
	cmd := m.start(opRollout, func(ctx context.Context) Events {
		ro.handle = m.cfg.Engine.Rollout(ctx, plan)
		return ro.handle.Events()
	})
	m.rolloutStarted(plan.Policy)
	return cmd
}

// applyRollout takes in one event of the running rollout.
func (m *Model) applyRollout(e fleet.Event) {
	ro := m.ro
	m.rolloutEvent(e)
	r := m.byName[e.Host()]
	switch e := e.(type) {
	case fleet.PhaseEvent:
		if r != nil {
			r.phase = e.Phase
		}
	case fleet.HostOutcome:
		ro.outcomes[string(e.Outcome)]++
		if r != nil {
			r.last = &outcome{word: string(e.Outcome), cause: e.Cause, at: e.At()}
			r.fresh = true
		}
	case fleet.DoneEvent:
		if r != nil {
			r.phase = ""
		}
	case fleet.RolloutPaused:
		ro.paused = e.Paused
	case fleet.AbortRequested:
		ro.aborts++
	case fleet.RolloutHalted:
		ro.halted = e.Reason
		m.say("rollout halted: "+e.Reason, true)
	case fleet.OpFinished:
		ro.err = e.Err
	}
	if m.cfg.Recorder != nil {
		if lost := m.cfg.Recorder.Failures(); len(lost) > 0 {
			m.say(fmt.Sprintf("history: %v", lost[0]), true)
		}
	}
}

// rolloutFinished says how the rollout ended and reads its hosts again:
// their generations and locks have changed.
func (m *Model) rolloutFinished() tea.Cmd {
	ro := m.ro
	ro.finished = true
	var rows []*hostRow
	for _, n := range ro.nodes {
		r := m.byName[n.Name]
		r.phase = ""
		rows = append(rows, r)
	}
	text, isErr := ro.verb+" finished: "+outcomeCounts(ro.outcomes), false
	if ro.err != nil {
		text, isErr = ro.verb+" refused: "+ro.err.Error(), true
	}
	return tea.Batch(m.say(text, isErr), removeDir(ro.rootDir), m.refresh(rows))
}

// inFlight names the hosts the rollout is working on, with their phase.
func (m *Model) inFlight() []string {
	var out []string
	for _, n := range m.ro.nodes {
		if r := m.byName[n.Name]; r.inFlight() {
			out = append(out, fmt.Sprintf("%s (%s)", n.Name, r.phase))
		}
	}
	sort.Strings(out)
	return out
}

// quit is q: at once, unless a rollout runs; then it asks first.
func (m *Model) quit() tea.Cmd {
	if m.running() {
		m.dialog = &quitDialog{}
		return nil
	}
	m.cancel()
	return tea.Quit
}

// leave ends the console in the middle of a rollout as Ctrl-C ends
// deploy: Abort (no new host), then stop waiting for the hosts in
// flight; Report names them.
func (m *Model) leave() tea.Cmd {
	flying := m.inFlight()
	m.ro.handle.Abort()
	m.ro.handle.Abort()
	m.report = fmt.Sprintf("quit during %s (%s): aborted; no new host was started", m.ro.handle.ID(), strings.ToLower(m.ro.verb))
	if len(flying) > 0 {
		m.report += fmt.Sprintf("; left in flight: %s. Each finishes or rolls itself back (magic rollback); `nixdeck status` shows where they are", strings.Join(flying, ", "))
	}
	m.cancel()
	return tea.Quit
}

// SignalMsg is SIGINT or SIGTERM sent to the console's process (not a
// key): the console ends as a confirmed quit does.
type SignalMsg struct{}

func (m *Model) onSignal() tea.Cmd {
	if m.running() {
		return m.leave()
	}
	m.cancel()
	return tea.Quit
}

// quitDialog asks before quitting in the middle of a rollout.
type quitDialog struct{}

func (quitDialog) title() string { return "Quit while a rollout runs?" }

func (quitDialog) lines(m *Model, width int) []string {
	out := wrap("Quitting aborts the rollout as Ctrl-C does: no new host starts, and nixdeck stops waiting for the hosts in flight.", width)
	if f := m.inFlight(); len(f) > 0 {
		out = append(out, "")
		out = append(out, wrap("In flight now: "+strings.Join(f, ", "), width)...)
	}
	return append(out, "", "y: abort and quit · n: keep watching")
}

func (quitDialog) update(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Yes) {
		m.dialog = nil
		return m.leave()
	}
	if key.Matches(msg, m.keys.No, m.keys.Quit) {
		m.dialog = nil
	}
	return nil
}

func (quitDialog) keys(m *Model) []key.Binding {
	return []key.Binding{withHelp(m.keys.Yes, "abort and quit"), withHelp(m.keys.No, "keep watching")}
}
