package nix

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"nixdeck/internal/termtext"
)

// Render writes the diff in nvd's format: the <<< and >>> header, the
// non-empty sections, and the closure size line. With m nil the output
// is plain text, line for line what nvd 0.2.x prints without colour; m
// decorates state letters, names and versions (colours them, for nvd's
// look). Names, versions and paths come from the store paths a host
// reports and are printed through termtext.Visible.
func (d *ClosureDiff) Render(w io.Writer, m DiffMarker) error {
	var b strings.Builder
	fmt.Fprintf(&b, "<<< %s\n>>> %s\n", termtext.Visible(d.Old), termtext.Visible(d.New))
	d.RenderBody(&b, m)
	_, err := io.WriteString(w, b.String())
	return err
}

// RenderBody writes everything below the header: sections and size line.
func (d *ClosureDiff) RenderBody(b *strings.Builder, m DiffMarker) {
	sections := []struct {
		title   string
		entries []PackageChange
	}{
		{"Version changes:", d.Versions},
		{"Selection state changes:", d.Selection},
		{"Added packages:", d.Added},
		{"Removed packages:", d.Removed},
	}
	for _, s := range sections {
		if len(s.entries) == 0 {
			continue
		}
		b.WriteString(s.title + "\n")
		renderSection(b, s.entries, m)
	}
	if d.Empty() {
		b.WriteString("No version or selection state changes.\n")
	}
	b.WriteString(d.SizeLine() + "\n")
}

// SizeLine is nvd's last line, e.g. "Closure size: 2 -> 3 (1 paths added,
// 0 paths removed, delta +1, disk usage +27.1MiB)."
func (d *ClosureDiff) SizeLine() string {
	return fmt.Sprintf("Closure size: %d -> %d (%d paths added, %d paths removed, delta %+d, disk usage %s).",
		d.OldPaths, d.NewPaths, d.PathsAdded, d.PathsRemoved, d.PathsAdded-d.PathsRemoved, FormatSizeDelta(d.NewSize-d.OldSize))
}

func renderSection(b *strings.Builder, entries []PackageChange, m DiffMarker) {
	digits := len(strconv.Itoa(len(entries)))
	// Names are padded to the widest as printed: escaped, in terminal cells.
	names := make([]string, len(entries))
	width := 0
	for i, e := range entries {
		names[i] = termtext.Visible(e.Name)
		width = max(width, ansi.StringWidth(names[i]))
	}
	for i, e := range entries {
		selected := e.Selection == "*" || e.Selection == "+" || e.Selection == "-"
		name := names[i] + strings.Repeat(" ", width-ansi.StringWidth(names[i]))
		fmt.Fprintf(b, "[%s%s]  #%0*d  %s  %s\n", mark(m, stateParts[e.State], selected, e.State),
			mark(m, PartPackage, selected, e.Selection), digits, i+1, mark(m, PartPackage, selected, name), renderVersions(e, m))
	}
}

// renderVersions writes "old -> new" for version changes and the one
// side's list otherwise.
func renderVersions(e PackageChange, m DiffMarker) string {
	if e.Old != nil && e.New != nil {
		from := commonVersionPrefix(e.Old, e.New)
		return versionList(e.Old, m, from, false) + " -> " + versionList(e.New, m, from, true)
	}
	if e.New != nil {
		return versionList(e.New, m, -1, false)
	}
	return versionList(e.Old, m, -1, false)
}

// versionList joins ascending versions with ", ", collapsing equal
// neighbours to "v xN" and showing an empty version as "<none>".
func versionList(vs []string, m DiffMarker, from int, newSide bool) string {
	var items []string
	for i := 0; i < len(vs); {
		j := i + 1
		for j < len(vs) && ParseVersion(vs[j]).Equal(ParseVersion(vs[i])) {
			j++
		}
		// nvd shows the last of a run of equal versions.
		text := vs[j-1]
		if text == "" {
			text = "<none>"
		} else {
			text = markVersion(m, text, from, newSide)
		}
		if j-i > 1 {
			text += fmt.Sprintf(" x%d", j-i)
		}
		items = append(items, text)
		i = j
	}
	return strings.Join(items, ", ")
}

// commonVersionPrefix is where the versions of both sides start to differ
// (a byte offset), moved back to the start of the letter or digit run it
// falls in so that "1.15 -> 1.17" highlights "15" and "17" whole.
func commonVersionPrefix(old, new []string) int {
	target, n, first := "", 0, true
	for _, v := range append(append([]string{}, old...), new...) {
		if v == "" {
			continue
		}
		if first {
			target, n, first = v, len(v), false
		} else {
			i := 0
			for i < n && i < len(v) && v[i] == target[i] {
				i++
			}
			n = i
		}
		if n == 0 {
			return 0
		}
	}
	if first || n >= len(target) {
		return n
	}
	isLetter := func(c byte) bool { return unicode.IsLetter(rune(c)) || c == '_' }
	switch c := target[n]; {
	case isDigit(c):
		for n > 0 && isDigit(target[n-1]) {
			n--
		}
	case isLetter(c):
		for n > 0 && isLetter(target[n-1]) {
			n--
		}
	}
	return n
}

// FormatSize renders a byte count for a report, unsigned and spaced:
// "512 B", "48.1 MiB".
func FormatSize(n int64) string {
	s := strings.TrimPrefix(FormatSizeDelta(n), "+")
	if i := strings.IndexFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' }); i > 0 {
		return s[:i] + " " + s[i:]
	}
	return s
}

// FormatSizeDelta renders a byte count with its sign in 1024-based units:
// "+512B", "-3.0KiB", "+27.1MiB".
func FormatSizeDelta(n int64) string {
	sign := "+"
	if n < 0 {
		sign, n = "-", -n
	}
	if n < 1024 {
		return sign + groupThousands(strconv.FormatInt(n, 10)) + "B"
	}
	f := float64(n)
	unit := ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"} {
		if f < 1024 {
			break
		}
		f /= 1024
		unit = u
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	return sign + groupThousands(whole) + "." + frac + unit
}

// groupThousands inserts commas as Python's "," format option does.
func groupThousands(digits string) string {
	for i := len(digits) - 3; i > 0; i -= 3 {
		digits = digits[:i] + "," + digits[i:]
	}
	return digits
}
