package ui

import (
	"sort"
	"strings"

	"nixdeck/ui/internal/cells"
)

// column is one column of a table: its title, how narrow it may get and
// how wide it would like to be, and which columns give way first when
// the terminal is narrow.
type column struct {
	title      string
	min, ideal int
	// drop orders the columns by how much they matter: the lowest get
	// their room first, the highest are hidden first when even the
	// minimum widths do not fit; 0 is never hidden.
	drop int
	// optional columns are hidden too when the others' ideal widths do
	// not fit (the address: the details screen has it).
	optional bool
	// grow takes the width left over once every column has its ideal.
	grow bool
}

// colGap is the space between two columns.
const colGap = 1

// layout gives each column its width for a table w cells wide (0 hides
// it): the columns that matter least are hidden while even the minimum
// widths do not fit, and the optional ones while the ideal widths do
// not; then every column shown gets its minimum, each up to its ideal in
// the order they matter, and the growing column the rest.
func layout(cols []column, w int) []int {
	order := make([]int, len(cols)) // by how much they matter
	for i := range cols {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return cols[order[a]].drop < cols[order[b]].drop })
	shown := make([]bool, len(cols))
	for i := range cols {
		shown[i] = true
	}
	sum := func(width func(column) int) int {
		n := -colGap
		for i, c := range cols {
			if shown[i] {
				n += width(c) + colGap
			}
		}
		return n
	}
	minimum := func(c column) int { return c.min }
	ideal := func(c column) int { return max(c.ideal, c.min) }
	for k := len(order) - 1; k >= 0; k-- {
		c := cols[order[k]]
		tooWide := sum(minimum) > w || (c.optional && sum(ideal) > w)
		if tooWide && c.drop > 0 {
			shown[order[k]] = false
		}
	}
	widths := make([]int, len(cols))
	left := w - sum(minimum)
	for _, i := range order {
		if shown[i] {
			add := max(min(ideal(cols[i])-cols[i].min, left), 0)
			widths[i] = cols[i].min + add
			left -= add
		}
	}
	for i, c := range cols {
		if shown[i] && c.grow && left > 0 {
			widths[i] += left
			break
		}
	}
	return widths
}

// joinCells lays out one table line: each shown column's cell cut or
// padded to its width, colGap apart; the last shown cell is not padded.
func joinCells(texts []string, widths []int) string {
	var b strings.Builder
	last := -1
	for i, w := range widths {
		if w > 0 {
			last = i
		}
	}
	first := true
	for i, w := range widths {
		if w == 0 {
			continue
		}
		if !first {
			b.WriteString(strings.Repeat(" ", colGap))
		}
		first = false
		text := "" // a short line (a host's "no diff") leaves the rest blank
		if i < len(texts) {
			text = texts[i]
		}
		c := cells.Fit(text, w)
		if i == last {
			c = strings.TrimRight(c, " ")
		}
		b.WriteString(c)
	}
	return b.String()
}

// titles returns the columns' titles, for the header line.
func titles(cols []column) []string {
	t := make([]string, len(cols))
	for i, c := range cols {
		t[i] = c.title
	}
	return t
}

// keepInView returns the first of rows lines shown of a list of n, moved
// from top as little as keeps the cursor in view.
func keepInView(cursor, top, rows, n int) int {
	rows = max(rows, 1)
	top = min(top, cursor)
	top = max(top, cursor-rows+1)
	return max(0, min(top, n-rows))
}

// listLines draws the rows lines in view of a list of n, from *top
// (moved to keep the cursor in view): each row's cells laid out in
// widths after markWidth cells, the cursor's row marked ">" and
// highlighted.
func (m *Model) listLines(n, cursor int, top *int, rows int, widths []int, row func(i int) []string) []string {
	*top = keepInView(cursor, *top, rows, n)
	var out []string
	for i := *top; i < n && i < *top+rows; i++ {
		line := joinCells(row(i), widths)
		if i == cursor {
			out = append(out, m.st.Paint(m.st.Cursor, ">  "+line))
		} else {
			out = append(out, "   "+line)
		}
	}
	return out
}
