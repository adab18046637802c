package rolloutview

import (
	"strings"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/ui/internal/cells"
)

// maxLast bounds the last log line a row keeps: a row shows a part of
// it, never a host's whole flood.
const maxLast = 512

// Apply takes one event of the rollout into the pane, in the order the
// stream gave them. The first OpStarted sets the rollout; events of any
// other operation are ignored, so the root model may hand it whatever it
// reads. Host text is made visible here, once.
func (m *Model) Apply(e fleet.Event) {
	if s, ok := e.(fleet.OpStarted); ok && m.op == "" {
		m.start(s)
		return
	}
	if m.op == "" || e.Op() != m.op {
		return
	}
	if h := e.Host(); h != "" {
		if i, ok := m.index[h]; ok {
			m.applyHost(m.rows[i], e)
			switch e.(type) {
			case fleet.PhaseEvent, fleet.HostOutcome:
				if m.follow {
					m.followWork()
				}
			}
		}
		return
	}
	switch e := e.(type) {
	case fleet.RolloutStarted:
		m.plan(e)
	case fleet.WaveStarted:
		if w := m.wave(e.Wave); w != nil {
			w.state, w.started = waveRunning, e.At()
		}
	case fleet.WaveHealthy:
		if w := m.wave(e.Wave); w != nil {
			w.state = waveHealthy
		}
	case fleet.RolloutPaused:
		m.paused, m.asked = e.Paused, ""
	case fleet.RolloutHalted:
		m.halted = termtext.Visible(e.Reason)
	case fleet.AbortRequested:
		m.aborts, m.asked = 1, ""
		if e.Second {
			m.aborts = 2
		}
	case fleet.OpFinished:
		m.finished = e.At()
		if e.Err != nil {
			m.opErr = termtext.Visible(e.Err.Error())
		}
	}
}

// start sets up the rows of a new rollout, all queued.
func (m *Model) start(s fleet.OpStarted) {
	m.op, m.kind, m.started = s.Op(), s.Kind, s.At()
	m.rows = make([]*row, len(s.Hosts))
	m.index = make(map[string]int, len(s.Hosts))
	for i, h := range s.Hosts {
		m.rows[i] = &row{host: h, name: termtext.Visible(h), phase: fleet.PhaseQueued}
		m.index[h] = i
	}
	m.measure()
}

// measure finds the widest row label, once the labels are known.
func (m *Model) measure() {
	m.labelWidth = 0
	for _, r := range m.rows {
		m.labelWidth = max(m.labelWidth, cells.Width(r.label()))
	}
}

// plan takes the plan: action, owner, canary and waves.
func (m *Model) plan(e fleet.RolloutStarted) {
	m.kind, m.action, m.owner = e.Kind, termtext.Visible(e.Action), termtext.Visible(e.Owner)
	m.canary = e.Canary
	m.waves = make([]wave, len(e.Waves))
	for i, hosts := range e.Waves {
		m.waves[i] = wave{hosts: hosts, canary: i == 0 && len(e.Canary) > 0}
		for _, h := range hosts {
			if j, ok := m.index[h]; ok {
				m.rows[j].wave = i + 1
				m.rows[j].canary = m.waves[i].canary
			}
		}
	}
	m.measure()
}

// wave is wave n (from 1) of the plan, nil when the plan has none such.
func (m *Model) wave(n int) *wave {
	if n < 1 || n > len(m.waves) {
		return nil
	}
	return &m.waves[n-1]
}

// applyHost takes an event about one host into its row.
func (m *Model) applyHost(r *row, e fleet.Event) {
	switch e := e.(type) {
	case fleet.PhaseEvent:
		r.phase = e.Phase
		if r.start.IsZero() && e.Phase != fleet.PhaseQueued {
			r.start = e.At()
		}
	case fleet.CopyEvent:
		r.copy = e.CopyProgress
	case fleet.CopySourceEvent:
		r.source = e.Text()
	case fleet.LogEvent:
		line := e.Line
		if i := strings.LastIndexByte(strings.TrimRight(line, "\n"), '\n'); i >= 0 {
			line = line[i+1:]
		}
		if len(line) > maxLast {
			line = line[:maxLast]
		}
		r.last = cells.ExpandTabs(termtext.Visible(strings.TrimRight(line, "\r\n")))
	case fleet.HostOutcome:
		r.outcome, r.cause, r.end = e.Outcome, termtext.Visible(e.Cause), e.At()
		r.fromGen, r.toGen, r.took = e.FromGen, e.ToGen, e.Duration
	case fleet.DoneEvent:
		r.interrupted = e.Interrupted()
		if r.outcome == "" {
			// A host ended without an outcome (the plan was refused
			// before its rows had any): its error says why.
			r.outcome, r.end = fleet.OutcomeFailed, e.At()
			if e.Err != nil {
				r.cause = termtext.Visible(e.Err.Error())
			}
		}
		if spends(r) {
			m.failures++
		}
	}
}

// spends reports whether a host's end counts against the failure
// budget, as the engine counts it: failed, rolled back by itself, or
// unknown without an interruption. Unreachable says nothing of the
// release and does not count.
func spends(r *row) bool {
	switch r.outcome {
	case fleet.OutcomeFailed, fleet.OutcomeRolledBack, fleet.OutcomeUnknown:
		return !r.interrupted
	}
	return false
}

// followWork puts the cursor on the first host at work, if one is.
func (m *Model) followWork() {
	for i, r := range m.rows {
		if r.working() {
			m.cursor = i
			m.scroll()
			return
		}
	}
}
