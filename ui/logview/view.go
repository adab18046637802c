package logview

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"nixdeck/internal/termtext"
	"nixdeck/ui/internal/cells"
)

// Marks in the gutter while a search is shown: they say which lines
// match without colour (NO_COLOR, or a colour the eye misses).
const (
	markCurrent = "▶ "
	markMatch   = "• "
	markNone    = "  "
)

// View renders the pane: a header naming the host and where the view
// stands, the lines, and the search's status line while there is one.
// It is exactly the size SetSize gave, and costs the lines in view only,
// however many the buffer holds.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	out := make([]string, 0, m.height)
	out = append(out, cells.Fit(m.header(), m.width))
	out = append(out, m.body()...)
	if m.typing {
		out = append(out, cells.Fit(m.input.View(), m.width))
	} else if m.query != "" {
		out = append(out, cells.Fit(m.st.Paint(m.st.Muted, m.status()), m.width))
	}
	return strings.Join(out, "\n")
}

// header is "web01 · log · host 2/12 · following · 1234 lines".
func (m Model) header() string {
	if m.focus == "" {
		return m.st.Paint(m.st.Title, m.kind())
	}
	parts := []string{m.kind()}
	if i := slices.Index(m.hosts, m.focus); len(m.hosts) > 1 && i >= 0 {
		parts = append(parts, fmt.Sprintf("host %d/%d", i+1, len(m.hosts)))
	}
	b := m.buffers()
	_, first, end := b.span(m.focus)
	top, bottom := m.window()
	switch {
	case first == end:
		parts = append(parts, "following")
	case m.place().follow:
		parts = append(parts, fmt.Sprintf("following · %d lines", end-first))
	default:
		parts = append(parts, fmt.Sprintf("lines %d-%d of %d · paused (f)", top+1, bottom, end))
	}
	if first > 0 {
		// The console's ring let them go; the operation's log file keeps
		// them, the host's journal keeps its own.
		where := "on disk"
		if m.journal != nil {
			where = "on the host"
		}
		parts = append(parts, fmt.Sprintf("%d older lines %s", first, where))
	}
	if m.xoff > 0 {
		parts = append(parts, fmt.Sprintf("from column %d (←)", m.xoff+1))
	}
	return m.st.Paint(m.st.Title, termtext.Visible(m.focus)) + " " + m.st.Paint(m.st.Muted, "· "+strings.Join(parts, " · "))
}

// kind names what the pane shows.
func (m Model) kind() string {
	switch {
	case m.journal == nil && m.focus == "":
		return "log: no host"
	case m.journal == nil:
		return "log"
	case m.unit == "":
		return "journal"
	}
	return "journal -u " + termtext.Visible(m.unit)
}

// body renders the lines in view, padded to the pane's body rows.
func (m Model) body() []string {
	rows := m.bodyRows()
	out := make([]string, 0, rows)
	r, first, end := m.buffers().span(m.focus)
	if m.focus != "" && first == end && rows > 0 {
		out = append(out, cells.Fit(m.st.Paint(m.st.Muted, "no lines from "+termtext.Visible(m.focus)+" yet"), m.width))
	}
	if first < end {
		top, bottom := m.window()
		for i := top; i < bottom; i++ {
			out = append(out, m.line(r.at(i), i))
		}
	}
	blank := strings.Repeat(" ", m.width)
	for len(out) < rows {
		out = append(out, blank)
	}
	return out
}

// line renders line number n: its gutter mark while a search is shown,
// the part in view after a sideways scroll, an ellipsis where it goes on
// past the right edge, and the search's match highlighted.
func (m Model) line(text string, n int64) string {
	w, gutter := m.width, ""
	if m.query != "" {
		gutter = markNone
		switch {
		case n == m.match:
			gutter = markCurrent
		case contains(text, m.query):
			gutter = markMatch
		}
		w -= len(markNone)
	}
	if m.xoff > 0 {
		text = ansi.Cut(text, m.xoff, m.xoff+w+1)
	}
	text = cells.Cut(text, w)
	if m.query != "" && !m.st.Plain() {
		if i := index(text, m.query); i >= 0 {
			end := i + len(m.query)
			text = text[:i] + m.st.Paint(m.st.Match, text[i:end]) + text[end:]
		}
	}
	return cells.Fit(gutter+text, m.width)
}

// status is the search's line: what it found and the keys to go on.
func (m Model) status() string {
	s := fmt.Sprintf("search %q", m.query)
	if m.notice != "" {
		s += ": " + m.notice
	}
	return termtext.Visible(s) + " · n next · N previous · / edit · esc clears"
}
