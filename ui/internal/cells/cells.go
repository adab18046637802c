// Package cells measures and cuts the console's text in terminal cells,
// never bytes or runes: a CJK character or an emoji takes two cells, and
// the colour sequences of a styled string take none. Every component cuts
// its lines to its width through here, so that no line wraps and a
// resized terminal redraws cleanly.
package cells

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Ellipsis ends a line that was cut to fit.
const Ellipsis = "…"

// Width is the number of cells s takes, colour sequences excluded.
func Width(s string) int { return ansi.StringWidth(s) }

// Cut returns s cut to at most w cells, ending in Ellipsis when it was
// cut; colour sequences stay balanced.
func Cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, Ellipsis)
}

// Fit returns s cut or padded with spaces to exactly w cells: a table
// cell, or a line that must cover what the previous frame drew there.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		s = ansi.Truncate(s, w, Ellipsis)
		n = ansi.StringWidth(s)
	}
	if n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// tabStop is the terminal's: a tab moves to the next multiple of 8.
const tabStop = 8

// ExpandTabs replaces each tab with the spaces that take the text to the
// next tab stop, counted in cells from the start of s (colour sequences
// take none). A terminal would move its cursor instead, over whatever the
// previous frame left there, and no width measure counts a tab.
func ExpandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*tabStop)
	col := 0
	for {
		i := strings.IndexByte(s, '\t')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		col += ansi.StringWidth(s[:i])
		n := tabStop - col%tabStop
		b.WriteString(strings.Repeat(" ", n))
		col += n
		s = s[i+1:]
	}
}

// Lines returns s split into exactly h lines, each cut or padded to w
// cells: the body of a pane of that size, whatever s held.
func Lines(s string, w, h int) string {
	if h <= 0 {
		return ""
	}
	in := strings.Split(s, "\n")
	out := make([]string, h)
	for i := range out {
		var l string
		if i < len(in) {
			l = in[i]
		}
		out[i] = Fit(l, w)
	}
	return strings.Join(out, "\n")
}
