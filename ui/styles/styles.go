// Package styles is how nixdeck's output looks, in one place: every style
// the headless commands and the console draw with, named by what it means
// (Styles.VersionUp, not cyan) and built by one constructor, New, from the
// terminal's colour profile. nix lays out diffs as plain text and asks a
// DiffMarker to decorate their parts; *Styles is that marker.
package styles

import (
	"image/color"

	"charm.land/bubbles/v2/textinput"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	"nixdeck/nix"
)

// Styles holds every style of nixdeck's output.
type Styles struct {
	// VersionUp, VersionDown, Changed, Added and Removed colour a closure
	// diff's state letters U, D, C, A and R.
	VersionUp, VersionDown, Changed, Added, Removed lipgloss.Style
	// Selected is added to the state letter of a package the system
	// selects (environment.systemPackages).
	Selected lipgloss.Style
	// Package colours a package's selection marker and name;
	// SelectedPackage those of a selected package.
	Package, SelectedPackage lipgloss.Style
	// Version colours versions; VersionOld and VersionNew the part of an
	// old or a new version from where the two sides start to differ.
	Version, VersionOld, VersionNew lipgloss.Style
	// FileHeader, Hunk, LineRemoved and LineAdded colour a file diff's
	// ---/+++, @@, - and + lines.
	FileHeader, Hunk, LineRemoved, LineAdded lipgloss.Style
	// HostName marks the host a rollout's line is about; HostDone,
	// HostFailed, HostWarning (rolled back, result unknown) and
	// HostSkipped colour its outcome and its row in the final table.
	HostName, HostDone, HostFailed, HostWarning, HostSkipped lipgloss.Style
	// HostWorking colours the phase of a host an operation is at work on.
	HostWorking lipgloss.Style

	// The console's panes. Title is a pane's header line, Muted what is
	// said beside it (counts, positions, hints), Cursor the highlighted
	// row and Match the text a search found. None of them carries a
	// meaning alone: a mark or a word says it too (see ui/*view).
	Title, Muted, Cursor, Match lipgloss.Style
	// ProgressDone and ProgressTodo colour the two parts of a progress
	// bar, whose characters differ too (█ and ░).
	ProgressDone, ProgressTodo lipgloss.Style
	// The console's frame. Bar is its top line; Marked a selected host's
	// mark (the "*" says it); Dialog the box of a dialog over a screen,
	// whose border is drawn without colours too: it is the box's shape,
	// not a meaning.
	Bar, Marked, Dialog lipgloss.Style

	// plain is set for a profile without colours: Mark leaves text as it
	// is, byte for byte what the plain renderers print.
	plain bool
}

// New builds the styles for a terminal of colour profile p: nvd's colours
// (its default "xmas" version highlight) from ANSI up, and none at all for
// NoTTY and ASCII. They are the terminal's own 16 colours, which its
// theme already makes readable on its background, so the background does
// not enter into them; a console style that needs it takes it here.
func New(p colorprofile.Profile) *Styles {
	dialog := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1)
	if p < colorprofile.ANSI {
		return &Styles{plain: true, Dialog: dialog}
	}
	fg := func(c color.Color) lipgloss.Style { return lipgloss.NewStyle().Foreground(c) }
	return &Styles{
		VersionUp:       fg(lipgloss.BrightCyan),
		VersionDown:     fg(lipgloss.BrightYellow),
		Changed:         fg(lipgloss.BrightMagenta),
		Added:           fg(lipgloss.BrightGreen),
		Removed:         fg(lipgloss.BrightRed),
		Selected:        lipgloss.NewStyle().Bold(true),
		Package:         fg(lipgloss.Green),
		SelectedPackage: fg(lipgloss.BrightGreen).Bold(true),
		Version:         fg(lipgloss.Yellow),
		VersionOld:      fg(lipgloss.Red),
		VersionNew:      fg(lipgloss.Green),
		FileHeader:      lipgloss.NewStyle().Bold(true),
		Hunk:            fg(lipgloss.Cyan),
		LineRemoved:     fg(lipgloss.Red),
		LineAdded:       fg(lipgloss.Green),
		HostName:        lipgloss.NewStyle().Bold(true),
		HostDone:        fg(lipgloss.Green),
		HostFailed:      fg(lipgloss.BrightRed),
		HostWarning:     fg(lipgloss.BrightYellow),
		HostSkipped:     lipgloss.NewStyle().Faint(true),
		HostWorking:     fg(lipgloss.Cyan),
		Title:           lipgloss.NewStyle().Bold(true),
		Muted:           lipgloss.NewStyle().Faint(true),
		Cursor:          lipgloss.NewStyle().Reverse(true),
		Match:           lipgloss.NewStyle().Reverse(true),
		ProgressDone:    fg(lipgloss.Green),
		ProgressTodo:    fg(lipgloss.BrightBlack),
		Bar:             lipgloss.NewStyle().Bold(true).Reverse(true),
		Marked:          fg(lipgloss.BrightCyan).Bold(true),
		Dialog:          dialog.BorderForeground(lipgloss.Cyan),
	}
}

// Paint renders text, one line already made visible, in st; without
// colours it is the text as it is.
func (s *Styles) Paint(st lipgloss.Style, text string) string {
	if s.plain {
		return text
	}
	return st.TabWidth(lipgloss.NoTabConversion).Render(text)
}

// Plain reports whether the styles draw no colour or attribute at all
// (NO_COLOR, not a terminal): a view then needs marks and words for all
// it says, which it has anyway.
func (s *Styles) Plain() bool { return s.plain }

// Styles is how the CLI colours diffs.
var _ nix.DiffMarker = (*Styles)(nil)

// Mark colours one part of a diff (nix.DiffMarker): text is one line,
// already made visible. Tabs stay tabs, as in the plain diff, rather than
// lipgloss's four spaces: a diff line shows the file as it is.
func (s *Styles) Mark(part nix.DiffPart, selected bool, text string) string {
	if s.plain {
		return text
	}
	byPart := map[nix.DiffPart]*lipgloss.Style{
		nix.PartUpgrade: &s.VersionUp, nix.PartDowngrade: &s.VersionDown, nix.PartChanged: &s.Changed,
		nix.PartAdded: &s.Added, nix.PartRemoved: &s.Removed, nix.PartPackage: &s.Package,
		nix.PartVersion: &s.Version, nix.PartVersionOld: &s.VersionOld, nix.PartVersionNew: &s.VersionNew,
		nix.PartFileHeader: &s.FileHeader, nix.PartHunk: &s.Hunk,
		nix.PartLineRemoved: &s.LineRemoved, nix.PartLineAdded: &s.LineAdded,
	}
	p, ok := byPart[part]
	if !ok {
		return text
	}
	st := *p
	switch {
	case part == nix.PartPackage && selected:
		st = s.SelectedPackage
	case selected:
		st = st.Inherit(s.Selected)
	}
	return st.TabWidth(lipgloss.NoTabConversion).Render(text)
}

// Input is how a text input (a search, a filter) looks: no colour of its
// own, so it reads on any background; the cursor is a reverse block,
// which does not blink (a blink is a redraw twice a second for nothing).
func (s *Styles) Input() textinput.Styles {
	var in textinput.Styles
	in.Focused.Prompt, in.Blurred.Prompt = s.Title, s.Muted
	in.Focused.Placeholder, in.Blurred.Placeholder = s.Muted, s.Muted
	in.Cursor.Blink = false
	return in
}
