package main

import (
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
	"nixdeck/ui/styles"
)

// printer prints the events of a headless deploy or rollback as they
// come, from its build, its diff and its rollout: one line per event that
// says something to an operator, prefixed by the host it is about
// ("web01 | copying 212 paths, 48.1 MiB") or by "*" for the operation
// itself; with --json, one JSON object per event (printer_json.go). It
// also keeps the rollout's summary for the final table and the exit code.
// Every piece of host text goes through termtext on the way out.
type printer struct {
	w    io.Writer
	st   *styles.Styles
	json bool
	err  error // the first write error
	// nixOut gets the build's output as Nix prints it (stderr): stdout is
	// the rollout's lines, which scripts read.
	nixOut io.Writer

	width   int               // widest host name, for the prefix column
	kinds   map[string]string // operation id → kind
	copying map[string]bool   // hosts whose copy line was printed
	pushing bool              // the cache push's first line was printed
	pushed  int               // paths done at the push's last progress line
	// held are the lines of an operation before the rollout (the build,
	// the diff, a state read), host by host: its hosts answer in any
	// order, and it prints in fleet order when it finishes.
	held    map[string][]string
	hold    bool
	heldFor []string // the hosts of the operation being held, in fleet order
	// abortHint ends the first abort's line: how to stop waiting
	// ("press Ctrl-C again …"); the console says it with a key.
	abortHint string

	sum *rolloutSummary
}

func newPrinter(w io.Writer, json bool) *printer {
	return &printer{w: w, st: styles.For(w), json: json, nixOut: w, kinds: map[string]string{},
		copying: map[string]bool{}, held: map[string][]string{}, sum: newRolloutSummary()}
}

// event prints e and takes what the summary needs from it.
func (p *printer) event(e fleet.Event) {
	if s, ok := e.(fleet.OpStarted); ok {
		p.kinds[s.Op()] = s.Kind
		for _, h := range s.Hosts {
			p.width = max(p.width, len(termtext.Visible(h)))
		}
	}
	rollout := isRollout(p.kinds[e.Op()])
	var inFlight []string
	if rollout {
		inFlight = p.sum.inFlight() // before the event: an abort names them
		p.sum.event(e)
	}
	if p.json {
		p.printJSON(e)
		return
	}
	if s, ok := e.(fleet.OpStarted); ok && !rollout {
		p.heldFor = s.Hosts
	}
	p.hold = !rollout
	p.printText(e, rollout, inFlight)
	p.hold = false
}

// release prints the held lines, host by host in fleet order.
func (p *printer) release() {
	for _, h := range p.heldFor {
		for _, l := range p.held[h] {
			p.line("", l)
		}
	}
	p.held, p.heldFor = map[string][]string{}, nil
}

func isRollout(kind string) bool { return kind == fleet.PlanDeploy || kind == fleet.PlanRollback }

// printText prints the text line of e, if it has one.
func (p *printer) printText(e fleet.Event, rollout bool, inFlight []string) {
	switch e := e.(type) {
	case fleet.LogEvent:
		if e.Host() == "" { // the build's output, as Nix prints it
			fmt.Fprintln(p.nixOut, termtext.VisibleLines(e.Line))
			return
		}
		for _, l := range strings.Split(e.Line, "\n") {
			p.hostLine(e.Host(), termtext.VisibleLines(l))
		}
	case fleet.PhaseEvent:
		switch e.Phase {
		case fleet.PhaseQueued, fleet.PhaseDone, fleet.PhaseFailed, fleet.PhaseInterrupted, fleet.PhaseCopying:
			// The queue is where every host starts; the end is the outcome's
			// line; the copy says what it copies (CopyEvent).
		default:
			if rollout {
				p.hostLine(e.Host(), string(e.Phase))
			}
		}
	case fleet.CopyEvent:
		if !p.copying[e.Host()] && e.PathsTotal > 0 {
			p.copying[e.Host()] = true
			p.hostLine(e.Host(), fmt.Sprintf("copying %d paths, %s", e.PathsTotal, nix.FormatSize(e.BytesTotal)))
		}
	case fleet.CopySourceEvent:
		// Text is safe as it is: its host part (Detail) is sanitised. A
		// host that did not substitute got everything from here, as the
		// copy's line says already.
		switch {
		case !e.Substituting:
		case e.Problem != "":
			p.hostLine(e.Host(), p.st.Paint(p.st.HostWarning, e.Text()))
		default:
			p.hostLine(e.Host(), e.Text())
		}
	case fleet.ActivationEvent:
		p.hostLine(e.Host(), activationText(e))
	case fleet.BuiltEvent:
		line := "built " + storeName(e.System)
		if e.Where != "" && e.Where != fleet.BuildLocal {
			line += " on " + termtext.Visible(e.Where)
		}
		p.hostLine(e.Host(), line)
	case fleet.CachePushEvent:
		if text, ok := p.pushText(e); ok {
			style := lipgloss.Style{}
			if e.Err != nil {
				style = p.st.HostFailed
			}
			p.opLine(p.st.Paint(style, text))
		}
	case fleet.DiffEvent:
		p.hostLine(e.Host(), diffSummary(e.Diff))
	case fleet.HostOutcome:
		p.hostLine(e.Host(), p.st.Paint(p.outcomeStyle(e.Outcome), outcomeText(e)))
	case fleet.DoneEvent:
		if e.Err != nil && !rollout { // a rollout's host ended with its outcome
			p.hostLine(e.Host(), p.st.Paint(p.st.HostFailed, termtext.Visible(oneLine(hostOutcomeLines(e.Err)))))
		}
	case fleet.OpFinished:
		if !rollout {
			p.release()
		}
		if e.Err != nil {
			p.opLine(p.st.Paint(p.st.HostFailed, "error: "+termtext.Visible(oneLine(e.Err.Error()))))
		}
	default:
		if text, style, ok := p.rolloutText(e, inFlight); ok {
			p.opLine(p.st.Paint(style, text))
		}
	}
}

// pushText is the line of a cache push event: one when the push knows
// how much it sends, one when it ends, and between them one each time
// another tenth of the paths has gone (counted, never timed, so the same
// events print the same lines).
func (p *printer) pushText(e fleet.CachePushEvent) (string, bool) {
	cache := termtext.Visible(e.Cache)
	if e.Done {
		p.pushing, p.pushed = false, 0
	}
	switch {
	case e.Done && e.Err != nil:
		return "cache: push to " + cache + " failed: " + termtext.Visible(oneLine(e.Err.Error())), true
	case e.Done:
		return fmt.Sprintf("cache: pushed %s (%s) to %s", plural(e.Paths, "path"), nix.FormatSize(e.Bytes), cache), true
	case !p.pushing && e.PathsTotal > 0:
		p.pushing = true
		return fmt.Sprintf("cache: pushing %s to %s", plural(e.PathsTotal, "path"), cache), true
	case p.pushing && e.Paths < e.PathsTotal && e.Paths-p.pushed >= (e.PathsTotal+9)/10:
		p.pushed = e.Paths
		return fmt.Sprintf("cache: pushing to %s: %d/%d paths, %s", cache, e.Paths, e.PathsTotal, nix.FormatSize(e.Bytes)), true
	}
	return "", false
}

// rolloutText is the line of an operation-level rollout event.
func (p *printer) rolloutText(e fleet.Event, inFlight []string) (string, lipgloss.Style, bool) {
	var none lipgloss.Style
	switch e := e.(type) {
	case fleet.RolloutStarted:
		s := fmt.Sprintf("%s: %s on %s by %s", e.Op(), e.Action, plural(len(slices.Concat(e.Waves...)), "host"), e.Owner)
		if len(e.Canary) > 0 {
			s += ", canary " + strings.Join(e.Canary, ", ")
		}
		return termtext.Visible(s), none, true
	case fleet.WaveStarted:
		kind := "wave"
		if e.Canary {
			kind = "canary wave"
		}
		return termtext.Visible(fmt.Sprintf("%s %d: %s", kind, e.Wave, strings.Join(e.Hosts, ", "))), none, true
	case fleet.WaveHealthy:
		return fmt.Sprintf("wave %d healthy", e.Wave), none, true
	case fleet.RolloutPaused:
		if e.Paused {
			return "paused: no new host starts", none, true
		}
		return "resumed", none, true
	case fleet.RolloutHalted:
		return "halted: " + termtext.Visible(e.Reason), p.st.HostFailed, true
	case fleet.AbortRequested:
		return abortText(e.Second, inFlight, p.abortHint), p.st.HostWarning, true
	}
	return "", none, false
}

// abortText says what an abort does to the hosts in flight.
func abortText(second bool, inFlight []string, hint string) string {
	hosts := termtext.Visible(strings.Join(inFlight, ", "))
	switch {
	case second && len(inFlight) > 0:
		return fmt.Sprintf("stopped waiting for %s: they still complete or roll back on their own; check with: nixdeck status --on %s",
			hosts, termtext.Visible(strings.Join(inFlight, ",")))
	case second:
		return "stopped waiting"
	case len(inFlight) > 0:
		s := "aborting: no new host starts; waiting for " + hosts + " (in flight)"
		if hint != "" {
			s += "; " + hint
		}
		return s
	}
	return "aborting: no new host starts"
}

// outcomeText is a host's outcome line: "done in 12.3s, generation 41 →
// 42", "failed after 3.1s: activate: units failed".
func outcomeText(e fleet.HostOutcome) string {
	s := string(e.Outcome)
	if e.Duration > 0 {
		switch e.Outcome {
		case fleet.OutcomeDone, fleet.OutcomeUnchanged:
			s += " in " + formatDuration(e.Duration)
		default:
			s += " after " + formatDuration(e.Duration)
		}
	}
	if g := genChange(e.FromGen, e.ToGen); g != "" && e.Outcome == fleet.OutcomeDone {
		s += ", generation " + g
	}
	if e.Cause != "" {
		s += ": " + e.Cause
	}
	return termtext.Visible(s)
}

// activationText says how an activation ended: its outcome and exit
// status, or that none came (cut short: the outcome says why).
func activationText(e fleet.ActivationEvent) string {
	r := e.Result
	switch {
	case r.ExitCode >= 0:
		return fmt.Sprintf("activation (%s): %s, exit %d", e.Action, r.Outcome, r.ExitCode)
	case r.Outcome == nix.OutcomeFailed:
		return fmt.Sprintf("activation (%s): no result", e.Action)
	}
	return fmt.Sprintf("activation (%s): %s", e.Action, r.Outcome)
}

// genChange renders "41 → 42", or "41" when it stayed; "" when the
// rollout did not say.
func genChange(from, to int) string {
	switch {
	case from == 0 && to == 0:
		return ""
	case from == to:
		return genNumber(from)
	}
	return genNumber(from) + " → " + genNumber(to)
}

func (p *printer) outcomeStyle(o fleet.Outcome) lipgloss.Style {
	switch o {
	case fleet.OutcomeDone:
		return p.st.HostDone
	case fleet.OutcomeFailed, fleet.OutcomeUnreachable:
		return p.st.HostFailed
	case fleet.OutcomeRolledBack, fleet.OutcomeUnknown:
		return p.st.HostWarning
	case fleet.OutcomeSkipped:
		return p.st.HostSkipped
	}
	return lipgloss.Style{}
}

// hostLine prints text, already made visible, after host's prefix.
func (p *printer) hostLine(host, text string) {
	name := termtext.Visible(host)
	pad := strings.Repeat(" ", max(p.width-len(name), 0))
	line := p.st.Paint(p.st.HostName, name) + pad + " | " + text
	if p.hold {
		p.held[host] = append(p.held[host], line)
		return
	}
	p.line("", line)
}

// opLine prints a line about the operation as a whole.
func (p *printer) opLine(text string) { p.line("* ", text) }

// note prints a message of nixdeck's own in the event stream: a line
// about the operation, or a {"type":"note"} object.
func (p *printer) note(msg string) {
	if p.json {
		p.writeJSON(map[string]any{"type": "note", "message": msg})
		return
	}
	p.opLine(termtext.Visible(msg))
}

func (p *printer) line(prefix, text string) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, "%s%s\n", prefix, text)
}

// formatDuration renders 850ms, 12.3s or 2m03s.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
}

// lost reports what the history could not keep, as it happens: the
// operation goes on, but never claims a record it does not have.
func (p *printer) lost(errs []error) {
	for _, err := range errs {
		p.sum.lost = append(p.sum.lost, err)
		if p.json {
			p.writeJSON(map[string]any{"type": "not_recorded", "error": err.Error()})
			continue
		}
		p.opLine(p.st.Paint(p.st.HostFailed, "not recorded: "+termtext.Visible(oneLine(err.Error()))))
	}
}

// tee prints each event of a stream that a collector reads (the build's,
// the diff's) as it passes.
func (p *printer) tee(events iter.Seq[fleet.Event]) iter.Seq[fleet.Event] {
	return func(yield func(fleet.Event) bool) {
		for e := range events {
			p.event(e)
			if !yield(e) {
				return
			}
		}
	}
}

// hostNote prints a message of nixdeck's own about a host (it may quote
// the host): a host line, or a {"type":"note","host":…} object.
func (p *printer) hostNote(host, msg string) {
	if p.json {
		p.writeJSON(map[string]any{"type": "note", "host": host, "message": msg})
		return
	}
	p.hostLine(host, termtext.Visible(msg))
}
