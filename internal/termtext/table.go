package termtext

import (
	"io"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// WriteTable prints rows aligned in columns two spaces apart, each cell
// passed through Visible first, so no table can carry a host's control
// characters and every column is measured on what is printed. Widths are
// terminal cells (a CJK character or an emoji takes two), not bytes or
// runes, which text/tabwriter counts.
//
// A row shorter than the first (the header) ends with a free-running cell,
// such as an error message, that does not widen its column, so the other
// rows stay aligned around it. The last cell of a row is not padded.
func WriteTable(w io.Writer, rows [][]string) error {
	cells := make([][]string, len(rows))
	var widths []int
	for i, r := range rows {
		cells[i] = make([]string, len(r))
		for j, c := range r {
			cells[i][j] = Visible(c)
			if j == len(r)-1 && len(r) < len(rows[0]) {
				break
			}
			if j >= len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], ansi.StringWidth(cells[i][j]))
		}
	}
	var b strings.Builder
	for _, r := range cells {
		for j, c := range r {
			b.WriteString(c)
			if j < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[j]-ansi.StringWidth(c)+2))
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
