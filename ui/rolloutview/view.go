package rolloutview

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
	"nixdeck/ui/internal/cells"
)

// View renders the plan, the overall progress, the rollout's state, the
// column names and the rows in view, exactly the size SetSize gave.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	head := m.head()
	if len(head) > m.height {
		head = head[:m.height]
	}
	out := make([]string, 0, m.height)
	for _, l := range head {
		out = append(out, cells.Fit(l, m.width))
	}
	nameWidth := m.nameWidth()
	for i := m.top; i < len(m.rows) && len(out) < m.height; i++ {
		out = append(out, m.row(i, nameWidth))
	}
	blank := strings.Repeat(" ", m.width)
	for len(out) < m.height {
		out = append(out, blank)
	}
	return strings.Join(out, "\n")
}

// headLines is how many lines head takes when the pane is tall enough;
// a pane too low for rows as well drops the waves and the column names.
const headLines = 5

// rowsShown is how many rows fit under the head.
func (m Model) rowsShown() int { return max(m.height-m.headCount(), 0) }

// headCount is how many lines head gives, without rendering them: the
// highlight is kept in view at every event, a frame is drawn 20 times a
// second at most.
func (m Model) headCount() int {
	switch {
	case m.op == "":
		return 1
	case m.height < headLines+2:
		return 3
	}
	return headLines
}

// head is what stands above the rows.
func (m Model) head() []string {
	if m.op == "" {
		return []string{m.st.Paint(m.st.Muted, "no rollout yet")}
	}
	if m.headCount() < headLines {
		return []string{m.title(), m.overall(), m.state()}
	}
	return []string{m.title(), m.wavesLine(), m.overall(), m.state(), m.columnNames()}
}

// title is "deploy switch · 12 hosts · canary web01 · by root@deck · ID".
func (m Model) title() string {
	what := m.kind
	if m.action != "" {
		what += " " + m.action
	}
	parts := []string{fmt.Sprintf("%d %s", len(m.rows), plural(len(m.rows), "host"))}
	if len(m.canary) > 0 {
		parts = append(parts, "canary "+termtext.Visible(strings.Join(m.canary, ", ")))
	}
	if m.owner != "" {
		parts = append(parts, "by "+m.owner)
	}
	parts = append(parts, termtext.Visible(m.op))
	return m.st.Paint(m.st.Title, what) + m.st.Paint(m.st.Muted, " · "+strings.Join(parts, " · "))
}

// wavesLine lists the waves and how far each got; when they do not fit,
// it counts them instead.
func (m Model) wavesLine() string {
	if len(m.waves) == 0 {
		return "waves: not planned yet"
	}
	var parts []string
	var healthy, running int
	for i, w := range m.waves {
		s := fmt.Sprintf("%d (%d %s)", i+1, len(w.hosts), plural(len(w.hosts), "host"))
		if w.canary {
			s = fmt.Sprintf("%d canary (%s)", i+1, termtext.Visible(strings.Join(w.hosts, ", ")))
		}
		switch w.state {
		case waveRunning:
			s += " running"
			running = i + 1
		case waveHealthy:
			s += " healthy"
			healthy++
		}
		parts = append(parts, s)
	}
	line := "waves: " + strings.Join(parts, " · ")
	if cells.Width(line) <= m.width {
		return line
	}
	line = fmt.Sprintf("%d waves: %d healthy", len(m.waves), healthy)
	if running > 0 {
		line += fmt.Sprintf(" · wave %d running", running)
	}
	return line
}

// overall is the progress bar of ended hosts and what they ended as,
// the failure budget, and the time since the start.
func (m Model) overall() string {
	ended := 0
	counts := map[fleet.Outcome]int{}
	for _, r := range m.rows {
		if r.outcome != "" {
			ended++
			counts[r.outcome]++
		}
	}
	var frac float64
	if len(m.rows) > 0 {
		frac = float64(ended) / float64(len(m.rows))
	}
	bar := m.bar
	bar.SetWidth(min(max(m.width/5, 10), 30))
	s := bar.ViewAs(frac) + fmt.Sprintf(" %d of %d ended", ended, len(m.rows))
	var parts []string
	for _, o := range outcomeOrder {
		if counts[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[o], o))
		}
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if m.budget >= 0 {
		s += fmt.Sprintf(" · failures %d of %d allowed", m.failures, m.budget)
	} else if m.failures > 0 {
		s += fmt.Sprintf(" · %d %s", m.failures, plural(m.failures, "failure"))
	}
	end := m.clock()
	if !m.finished.IsZero() {
		end = m.finished
	}
	return s + " · " + elapsed(end.Sub(m.started))
}

// outcomeOrder is the order outcomes are counted in.
var outcomeOrder = []fleet.Outcome{fleet.OutcomeDone, fleet.OutcomeUnchanged, fleet.OutcomeFailed,
	fleet.OutcomeRolledBack, fleet.OutcomeUnknown, fleet.OutcomeUnreachable, fleet.OutcomeSkipped}

// state says what the rollout is doing, in words, with the keys that
// change it.
func (m Model) state() string {
	st := m.st
	inFlight := termtext.Visible(strings.Join(m.InFlight(), ", "))
	switch {
	case !m.finished.IsZero() && m.opErr != "":
		return st.Paint(st.HostFailed, "refused: "+m.opErr)
	case !m.finished.IsZero() && m.halted != "":
		return st.Paint(st.HostFailed, "finished, halted: "+m.halted)
	case !m.finished.IsZero():
		return st.Paint(st.Title, "finished")
	case m.aborts >= 2 && inFlight != "":
		return st.Paint(st.HostWarning, "stopped waiting for "+inFlight+": they complete or roll back on their own")
	case m.aborts >= 1:
		s := "aborting: no new host starts"
		if inFlight != "" {
			s += "; waiting for " + inFlight + " (x again: stop waiting)"
		}
		return st.Paint(st.HostWarning, s)
	case m.halted != "":
		return st.Paint(st.HostFailed, "halted: "+m.halted+"; no new host starts")
	case m.asked != "":
		return st.Paint(st.HostWarning, m.asked+"…")
	case m.paused:
		return st.Paint(st.HostWarning, "paused: no new host starts (p resumes, x aborts)")
	}
	return st.Paint(st.Muted, "running (p pauses, x aborts)")
}

// columnNames heads the rows' columns.
func (m Model) columnNames() string {
	return m.st.Paint(m.st.Muted, "    "+cells.Fit("HOST", m.nameWidth())+" "+cells.Fit("PHASE", phaseWidth)+" "+
		cells.Fit("TIME", timeWidth)+" RESULT, COPY OR LAST LINE")
}

// Column widths that do not depend on the pane's.
const (
	phaseWidth = len("setting profile")
	timeWidth  = len("10m00s")
)

// nameWidth is the width of the host column: the longest label, up to
// a fifth of the pane.
func (m Model) nameWidth() int { return min(max(m.labelWidth, len("HOST")), max(m.width/5, 12)) }

// label is the row's name column: the host, and "(canary)" for one.
func (r *row) label() string {
	if r.canary {
		return r.name + " (canary)"
	}
	return r.name
}

// row renders row i: the highlight's mark, the host's mark, its name,
// phase and time, then its result once it has one, its copy's progress
// while it copies, else its last log line.
func (m Model) row(i, nameWidth int) string {
	r := m.rows[i]
	st := m.st
	sel := "  "
	if i == m.cursor {
		sel = "▶ "
	}
	mark, style := m.mark(r)
	phase := st.Paint(st.Muted, cells.Fit(string(r.phase), phaseWidth))
	if r.working() {
		phase = st.Paint(st.HostWorking, cells.Fit(string(r.phase), phaseWidth))
	}
	line := sel + st.Paint(style, mark) + " " + cells.Fit(st.Paint(st.HostName, r.label()), nameWidth) + " " + phase + " " +
		cells.Fit(m.took(r), timeWidth) + " "
	rest := max(m.width-cells.Width(line), 0)
	switch {
	case r.outcome != "":
		line += st.Paint(style, cells.Cut(r.result(), rest))
	case r.phase == fleet.PhaseCopying && r.copy.PathsTotal > 0:
		line += m.copyCell(r.copy, rest)
	default:
		line += st.Paint(st.Muted, cells.Cut(r.last, rest))
	}
	line = cells.Fit(line, m.width)
	if i == m.cursor {
		line = st.Paint(st.Cursor, line)
	}
	return line
}

// mark is the one-character sign of a row's state, and its style: the
// state is said by the sign and the words, the colour only repeats it.
func (m Model) mark(r *row) (string, lipgloss.Style) {
	st := m.st
	switch r.outcome {
	case fleet.OutcomeDone:
		return "✓", st.HostDone
	case fleet.OutcomeUnchanged:
		return "=", st.HostDone
	case fleet.OutcomeFailed, fleet.OutcomeUnreachable:
		return "✗", st.HostFailed
	case fleet.OutcomeRolledBack:
		return "~", st.HostWarning
	case fleet.OutcomeUnknown:
		return "?", st.HostWarning
	case fleet.OutcomeSkipped:
		return "-", st.HostSkipped
	}
	if r.working() {
		return "»", st.HostWorking
	}
	return "·", st.Muted
}

// result is an ended host's outcome in words, then where its paths came
// from: "done, generation 41 → 42 · cache 41, operator 3 (1.2 MiB)",
// "failed: activate: units failed".
func (r *row) result() string {
	s := string(r.outcome)
	if r.interrupted {
		s += " (interrupted)"
	}
	if r.outcome == fleet.OutcomeDone && r.toGen > 0 && r.fromGen != r.toGen {
		s += fmt.Sprintf(", generation %d → %d", r.fromGen, r.toGen)
	}
	if r.cause != "" {
		s += ": " + r.cause
	}
	if r.source != "" {
		s += " · " + r.source
	}
	return s
}

// copyCell is a copy's progress in w cells: a bar, then the paths
// and, when there is room, the bytes.
func (m Model) copyCell(p nix.CopyProgress, w int) string {
	frac := float64(p.PathsDone) / float64(p.PathsTotal)
	if p.BytesTotal > 0 {
		frac = float64(p.BytesDone) / float64(p.BytesTotal)
	}
	text := fmt.Sprintf(" %d/%d paths", p.PathsDone, p.PathsTotal)
	if long := text + fmt.Sprintf(", %s of %s", size(p.BytesDone), size(p.BytesTotal)); w >= cells.Width(long)+8 {
		text = long
	}
	bar := m.bar
	bar.SetWidth(min(max(w-cells.Width(text), 4), 20))
	return cells.Cut(bar.ViewAs(min(max(frac, 0), 1))+text, w)
}

// took is the time spent on a host: to its outcome once it has one,
// until now while it works; nothing while it waits.
func (m Model) took(r *row) string {
	switch {
	case r.took > 0:
		return elapsed(r.took)
	case r.start.IsZero():
		return ""
	case !r.end.IsZero():
		return elapsed(r.end.Sub(r.start))
	}
	return elapsed(m.clock().Sub(r.start))
}
