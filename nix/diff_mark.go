package nix

import (
	"strings"
	"unicode/utf8"

	"nixdeck/internal/termtext"
)

// DiffPart says what a piece of a rendered diff is, so that the
// presentation side (ui/styles) can colour it by meaning: nix lays out
// the text and knows nothing of colours, terminals or NO_COLOR.
type DiffPart uint8

// The parts of a closure diff and of an etc/ file diff.
const (
	// PartUpgrade, PartDowngrade, PartChanged, PartAdded and PartRemoved
	// are the state letters U, D, C, A and R.
	PartUpgrade DiffPart = iota + 1
	PartDowngrade
	PartChanged
	PartAdded
	PartRemoved
	// PartPackage is a package's selection marker and its padded name.
	PartPackage
	// PartVersion is a version, or the part of it both sides share.
	PartVersion
	// PartVersionOld and PartVersionNew are the part of an old or a new
	// version from where the two sides start to differ.
	PartVersionOld
	PartVersionNew
	// PartFileHeader is a ---/+++ line of a file diff, PartHunk an @@
	// line, PartLineRemoved and PartLineAdded its - and + lines.
	PartFileHeader
	PartHunk
	PartLineRemoved
	PartLineAdded
)

// DiffMarker decorates the parts of a rendered diff. Mark gets text
// already made visible (termtext) and without a newline, and returns it
// decorated; selected is set for the state letter and name of a package
// the system selects (environment.systemPackages). A nil DiffMarker
// renders plain text, byte for byte what nvd prints without colour.
type DiffMarker interface {
	Mark(part DiffPart, selected bool, text string) string
}

// mark decorates text with m, when there is one.
func mark(m DiffMarker, part DiffPart, selected bool, text string) string {
	if m == nil {
		return text
	}
	return m.Mark(part, selected, text)
}

// stateParts maps a state letter to its part.
var stateParts = map[string]DiffPart{"U": PartUpgrade, "D": PartDowngrade, "C": PartChanged, "A": PartAdded, "R": PartRemoved}

// markVersion renders one version, made visible; from >= 0 marks where
// the change starts, a byte offset into text.
func markVersion(m DiffMarker, text string, from int, newSide bool) string {
	shown := termtext.Visible(text)
	if m == nil {
		return shown
	}
	if from < 0 || from >= len(text) {
		return m.Mark(PartVersion, false, shown)
	}
	// The escaped prefix is a prefix of the escaped whole once from is
	// at the start of a character: cut shown there.
	for from > 0 && !utf8.RuneStart(text[from]) {
		from--
	}
	cut := len(termtext.Visible(text[:from]))
	changed := PartVersionOld
	if newSide {
		changed = PartVersionNew
	}
	return m.Mark(PartVersion, false, shown[:cut]) + m.Mark(changed, false, shown[cut:])
}

// linePart is the part a line of a unified diff is, by its first byte;
// 0 for context and "\ No newline" lines, which stay plain.
func linePart(line string) DiffPart {
	switch line[0] {
	case '@':
		return PartHunk
	case '-':
		return PartLineRemoved
	case '+':
		return PartLineAdded
	}
	return 0
}

// markLine decorates one line of a file diff, keeping its newline
// outside the decoration.
func markLine(m DiffMarker, part DiffPart, line string) string {
	if m == nil || part == 0 {
		return line
	}
	body, nl := strings.CutSuffix(line, "\n")
	if nl {
		return m.Mark(part, false, body) + "\n"
	}
	return m.Mark(part, false, body)
}
