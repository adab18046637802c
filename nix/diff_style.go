package nix

import (
	"image/color"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/term"

	"nixdeck/internal/termtext"
)

// DiffStyles colours a rendered closure diff the way nvd does. A nil
// *DiffStyles renders plain text, byte for byte what nvd prints without colour.
type DiffStyles struct {
	// States colours the state letter by state (U, D, C, A, R).
	States map[string]lipgloss.Style
	// SelectedState is added to the state letter of selected packages.
	SelectedState lipgloss.Style
	// Name and SelectedName colour the selection marker and the package name.
	Name, SelectedName lipgloss.Style
	// Version colours versions; OldChange and NewChange colour the part of
	// an old or new version from where the versions start to differ.
	Version, OldChange, NewChange lipgloss.Style
	// FileHeader and Hunk colour the ---/+++ and @@ lines of file diffs;
	// their removed and added lines use OldChange and NewChange.
	FileHeader, Hunk lipgloss.Style
}

// DefaultDiffStyles returns nvd's colours (its default "xmas" version highlight).
func DefaultDiffStyles() *DiffStyles {
	fg := func(c color.Color) lipgloss.Style { return lipgloss.NewStyle().Foreground(c) }
	return &DiffStyles{
		States: map[string]lipgloss.Style{
			"U": fg(lipgloss.BrightCyan),
			"D": fg(lipgloss.BrightYellow),
			"C": fg(lipgloss.BrightMagenta),
			"A": fg(lipgloss.BrightGreen),
			"R": fg(lipgloss.BrightRed),
		},
		SelectedState: lipgloss.NewStyle().Bold(true),
		Name:          fg(lipgloss.Green),
		SelectedName:  fg(lipgloss.BrightGreen).Bold(true),
		Version:       fg(lipgloss.Yellow),
		OldChange:     fg(lipgloss.Red),
		NewChange:     fg(lipgloss.Green),
		FileHeader:    lipgloss.NewStyle().Bold(true),
		Hunk:          fg(lipgloss.Cyan),
	}
}

// StylesFor returns DefaultDiffStyles when w is a terminal and NO_COLOR is
// unset or empty, and nil (plain text) otherwise.
func StylesFor(w io.Writer) *DiffStyles {
	if os.Getenv("NO_COLOR") != "" {
		return nil
	}
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(f.Fd()) {
		return nil
	}
	return DefaultDiffStyles()
}

// state renders the state letter.
func (s *DiffStyles) state(letter string, selected bool) string {
	if s == nil {
		return letter
	}
	st := s.States[letter]
	if selected {
		st = st.Inherit(s.SelectedState).Bold(true)
	}
	return st.Render(letter)
}

// name renders the selection marker or the package name.
func (s *DiffStyles) name(text string, selected bool) string {
	if s == nil {
		return text
	}
	if selected {
		return s.SelectedName.Render(text)
	}
	return s.Name.Render(text)
}

// version renders one version, made visible; from >= 0 marks where the
// change starts, a byte offset into text.
func (s *DiffStyles) version(text string, from int, newSide bool) string {
	shown := termtext.Visible(text)
	if s == nil {
		return shown
	}
	if from < 0 || from >= len(text) {
		return s.Version.Render(shown)
	}
	// The escaped prefix is a prefix of the escaped whole once from is
	// at the start of a character: cut shown there.
	for from > 0 && !utf8.RuneStart(text[from]) {
		from--
	}
	cut := len(termtext.Visible(text[:from]))
	hl := s.OldChange
	if newSide {
		hl = s.NewChange
	}
	return s.Version.Render(shown[:cut]) + hl.Render(shown[cut:])
}

// fileLine colours one line of a file diff by kind: 'h' header, '@' hunk,
// '-' removed, '+' added; other lines stay plain.
func (s *DiffStyles) fileLine(line string, kind byte) string {
	if s == nil {
		return line
	}
	body, nl := strings.CutSuffix(line, "\n")
	var st lipgloss.Style
	switch kind {
	case 'h':
		return s.FileHeader.Render(strings.TrimSuffix(line, "\n")) + "\n"
	case '@':
		st = s.Hunk
	case '-':
		st = s.OldChange
	case '+':
		st = s.NewChange
	default:
		return line
	}
	if nl {
		return st.Render(body) + "\n"
	}
	return st.Render(body)
}
