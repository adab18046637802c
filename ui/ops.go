package ui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
)

// opKind says what an operation the console started is for, and so what
// its events change.
type opKind int

const (
	opStates    opKind = iota // ReadStates: the fleet table
	opDrift                   // Build: the drift column
	opPrepare                 // Build, Diff or DiffRollback before a confirmation
	opGenDiff                 // DiffRollback of the generation under the cursor
	opHostDiffs               // Diff for the diff screen
	opRollout                 // a rollout
	opJournal                 // a host's journal tail
)

// streaming reports whether the operation's events come fast enough that
// the frame waits for the next tick rather than being drawn per batch.
func (k opKind) streaming() bool { return k == opRollout || k == opJournal || k == opPrepare }

// operation is an engine operation the console reads.
type operation struct {
	id     int
	kind   opKind
	events Events
	cancel context.CancelFunc
}

// eventsMsg is one batch of an operation's events; done once the
// stream has ended.
type eventsMsg struct {
	op     int
	events []fleet.Event
	done   bool
}

// batchLimit bounds one batch: enough for a tick's worth of lines from a
// hundred busy hosts, small enough that one Update stays short.
const batchLimit = 2048

// tickMsg redraws what streams and turns the spinners.
type tickMsg struct{}

// tickEvery is the redraw rate while anything streams or spins: 20 Hz.
const tickEvery = 50 * time.Millisecond

// start begins an operation of kind with run (which starts it on the
// engine under the context it is given) and returns the command reading
// its first batch.
func (m *Model) start(kind opKind, run func(ctx context.Context) Events) tea.Cmd {
	ctx, cancel := context.WithCancel(m.ctx)
	m.nextOp++
	op := &operation{id: m.nextOp, kind: kind, cancel: cancel}
	op.events = run(ctx)
	m.ops[op.id] = op
	return tea.Batch(read(m.ctx, op), m.ticking())
}

// read is the command that waits for op's next batch. It reads under the
// console's context, not op's: a cancelled operation still reports its
// hosts' ends, which the console wants to see.
func read(ctx context.Context, op *operation) tea.Cmd {
	id, ev := op.id, op.events
	return func() tea.Msg {
		b, ok := ev.NextBatch(ctx, batchLimit)
		return eventsMsg{op: id, events: b, done: !ok}
	}
}

// stop cancels an operation and forgets it: its later batches are
// dropped.
func (m *Model) stop(id int) {
	if op := m.ops[id]; op != nil {
		op.cancel()
		delete(m.ops, id)
	}
}

// onEvents hands a batch to what its operation is for, then reads on.
func (m *Model) onEvents(msg eventsMsg) tea.Cmd {
	op := m.ops[msg.op]
	if op == nil {
		return nil // stopped: nothing waits for it any more
	}
	var cmds []tea.Cmd
	for _, e := range msg.events {
		cmds = append(cmds, m.apply(op, e))
	}
	if op.kind.streaming() {
		m.redraw.later()
	} else {
		m.redraw.now()
	}
	if msg.done {
		op.cancel()
		delete(m.ops, op.id)
		m.redraw.now()
		cmds = append(cmds, m.finished(op))
	} else {
		cmds = append(cmds, read(m.ctx, op))
	}
	return tea.Batch(cmds...)
}

// apply is what one event of op changes.
func (m *Model) apply(op *operation, e fleet.Event) tea.Cmd {
	switch op.kind {
	case opStates:
		return m.applyState(e)
	case opDrift:
		m.applyDrift(e)
	case opPrepare:
		m.prep.apply(m, e)
	case opGenDiff:
		m.gens.apply(e)
	case opHostDiffs:
		m.applyHostDiff(e)
	case opRollout:
		m.applyRollout(e)
	case opJournal:
		m.applyJournal(e)
	}
	return nil
}

// finished is what the end of op leads to.
func (m *Model) finished(op *operation) tea.Cmd {
	switch op.kind {
	case opDrift:
		for _, r := range m.rows {
			r.building = false // a host the build never named is not being built
		}
	case opPrepare:
		return m.prep.finished(m)
	case opRollout:
		return m.rolloutFinished()
	}
	return nil
}

// ticking returns the command of the next tick unless one is on its way.
func (m *Model) ticking() tea.Cmd {
	if m.tick {
		return nil
	}
	m.tick = true
	return m.after(tickEvery, tickMsg{})
}

// onTick draws what streamed since the last tick and turns the
// spinners; ticks go on while an operation runs or a host is busy.
func (m *Model) onTick() tea.Cmd {
	m.tick = false
	m.spin++
	animating := len(m.ops) > 0 || m.anyBusy()
	if m.redraw.pending || animating {
		m.redraw.pending = false
		m.redraw.now()
	}
	if !animating {
		return nil
	}
	return m.ticking()
}

// anyBusy reports whether a host row shows a spinner.
func (m *Model) anyBusy() bool {
	for _, r := range m.rows {
		if r.busy() {
			return true
		}
	}
	return false
}
