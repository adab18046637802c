package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
)

// rolloutSummary is what a rollout's stream said about each host and the
// rollout as a whole: the final table and the exit code are made of it.
type rolloutSummary struct {
	op, kind string
	order    []string
	hosts    map[string]*hostEnd
	halted   string  // the first halt's reason
	aborts   int     // AbortRequested events seen
	opErr    error   // OpFinished.Err: the plan was refused
	lost     []error // history records and logs that were not kept
	// signal is the first signal that stopped the rollout (its exit code
	// is a shell's for it: 130 for SIGINT, whatever the hosts' outcomes);
	// 0 for none.
	signal syscall.Signal
}

// hostEnd is one host's part of the summary.
type hostEnd struct {
	started bool // past the queue
	outcome *fleet.HostOutcome
	done    bool
	err     error // DoneEvent.Err
}

func newRolloutSummary() *rolloutSummary {
	return &rolloutSummary{hosts: map[string]*hostEnd{}}
}

// event takes what the summary needs from one rollout event.
func (s *rolloutSummary) event(e fleet.Event) {
	switch e := e.(type) {
	case fleet.OpStarted:
		s.op, s.kind = e.Op(), e.Kind
		for _, h := range e.Hosts {
			if s.hosts[h] == nil {
				s.order = append(s.order, h)
				s.hosts[h] = &hostEnd{}
			}
		}
		return
	case fleet.RolloutHalted:
		if s.halted == "" {
			s.halted = e.Reason
		}
	case fleet.AbortRequested:
		s.aborts++
	case fleet.OpFinished:
		s.opErr = e.Err
	}
	h := s.hosts[e.Host()]
	if h == nil {
		return
	}
	switch e := e.(type) {
	case fleet.PhaseEvent:
		h.started = h.started || e.Phase != fleet.PhaseQueued
	case fleet.HostOutcome:
		h.outcome = &e
	case fleet.DoneEvent:
		h.done, h.err = true, e.Err
	}
}

// inFlight lists the hosts started and not yet ended, in fleet order.
func (s *rolloutSummary) inFlight() []string {
	var out []string
	for _, name := range s.order {
		if h := s.hosts[name]; h.started && h.outcome == nil && !h.done {
			out = append(out, name)
		}
	}
	return out
}

// outcomeOf is a host's outcome; a host that ended without one (the
// stream was cut) is unknown, and its error is the cause.
func (s *rolloutSummary) outcomeOf(name string) fleet.HostOutcome {
	h := s.hosts[name]
	if h.outcome != nil {
		return *h.outcome
	}
	o := fleet.HostOutcome{EventBase: fleet.EventBase{OpID: s.op, HostName: name}, Outcome: fleet.OutcomeUnknown}
	switch {
	case h.err != nil:
		o.Cause = oneLine(hostOutcomeLines(h.err))
	case !h.done:
		o.Cause = "no result: nixdeck stopped reading"
	}
	return o
}

// exit is the rollout's exit code with the message that explains it: 0
// when every host is done or unchanged, 3 when the rollout halted, 1
// when some host is anything else, the plan was refused or a record was
// not kept; 130 after Ctrl-C (143 after SIGTERM).
func (s *rolloutSummary) exit() (int, error) {
	var counts []string
	n := map[fleet.Outcome]int{}
	bad := 0
	for _, name := range s.order {
		o := s.outcomeOf(name).Outcome
		if o != fleet.OutcomeDone && o != fleet.OutcomeUnchanged {
			if n[o] == 0 {
				counts = append(counts, string(o))
			}
			n[o]++
			bad++
		}
	}
	for i, o := range counts {
		counts[i] = fmt.Sprintf("%d %s", n[fleet.Outcome(o)], o)
	}
	var msgs []string
	if bad > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %d hosts not done (%s)", bad, len(s.order), strings.Join(counts, ", ")))
	}
	if s.opErr != nil {
		msgs = append(msgs, s.opErr.Error())
	}
	if len(s.lost) > 0 {
		msgs = append(msgs, fmt.Sprintf("%d history records or logs not kept (see above)", len(s.lost)))
	}
	code := 0
	switch {
	case s.signal != 0:
		code = signalExit(s.signal) // run says it was interrupted
	case s.halted != "":
		code = 3
		msgs = append([]string{"halted: " + s.halted}, msgs...)
	case len(msgs) > 0:
		code = 1
	}
	if len(msgs) == 0 {
		return code, nil
	}
	return code, errors.New(s.kind + ": " + strings.Join(msgs, "; "))
}

// table prints the final table: host, outcome, generation, duration,
// cause; on a terminal each row in its outcome's colour.
func (p *printer) table() {
	s := p.sum
	rows := [][]string{{"HOST", "OUTCOME", "GENERATION", "DURATION", "CAUSE"}}
	var outcomes []fleet.Outcome
	for _, name := range s.order {
		o := s.outcomeOf(name)
		dur := "-"
		if o.Duration > 0 {
			dur = formatDuration(o.Duration)
		}
		gen := genChange(o.FromGen, o.ToGen)
		if gen == "" {
			gen = "-"
		}
		rows = append(rows, []string{name, string(o.Outcome), gen, dur, orDash(o.Cause)})
		outcomes = append(outcomes, o.Outcome)
	}
	var b bytes.Buffer
	if err := termtext.WriteTable(&b, rows); err != nil {
		p.err = err
		return
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	p.line("", "")
	p.line("", lines[0])
	for i, l := range lines[1:] {
		p.line("", p.st.Paint(p.outcomeStyle(outcomes[i]), l))
	}
}

// finish prints the summary (the table, or the JSON summary object) and
// returns the rollout's exit error (nil for 0).
func (p *printer) finish() error {
	code, err := p.sum.exit()
	if p.json {
		p.summaryJSON(code, err)
	} else {
		p.table()
	}
	if p.err != nil {
		return fmt.Errorf("write output: %w", p.err)
	}
	return exitCode(code, err)
}
