package styles

import (
	"regexp"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"nixdeck/nix"
)

// sgr matches the colour sequences the styles write.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Without colours Mark hands back the text as it is, so the plain diff
// stays byte for byte nvd's.
func TestMarkPlain(t *testing.T) {
	for _, p := range []colorprofile.Profile{colorprofile.NoTTY, colorprofile.ASCII} {
		s := New(p)
		for part := nix.PartUpgrade; part <= nix.PartLineAdded; part++ {
			for _, sel := range []bool{false, true} {
				if got := s.Mark(part, sel, "a\tb  "); got != "a\tb  " {
					t.Errorf("%v: Mark(%d, %v) = %q, want the text unchanged", p, part, sel, got)
				}
			}
		}
	}
}

// Each part gets its colour by meaning, nvd's; a selected package's
// letter and name are bold; a diff line keeps its tabs.
func TestMarkColours(t *testing.T) {
	s := New(colorprofile.ANSI)
	tests := []struct {
		part     nix.DiffPart
		selected bool
		text     string
		want     string
	}{
		{nix.PartUpgrade, false, "U", "\x1b[96mU\x1b[m"},
		{nix.PartUpgrade, true, "U", "\x1b[1;96mU\x1b[m"},
		{nix.PartDowngrade, false, "D", "\x1b[93mD\x1b[m"},
		{nix.PartChanged, true, "C", "\x1b[1;95mC\x1b[m"},
		{nix.PartAdded, false, "A", "\x1b[92mA\x1b[m"},
		{nix.PartRemoved, false, "R", "\x1b[91mR\x1b[m"},
		{nix.PartPackage, false, "bash ", "\x1b[32mbash \x1b[m"},
		{nix.PartPackage, true, "*", "\x1b[1;92m*\x1b[m"},
		{nix.PartVersion, false, "5.2p", "\x1b[33m5.2p\x1b[m"},
		{nix.PartVersionOld, false, "32", "\x1b[31m32\x1b[m"},
		{nix.PartVersionNew, false, "è", "\x1b[32mè\x1b[m"},
		{nix.PartFileHeader, false, "+++ /dev/null", "\x1b[1m+++ /dev/null\x1b[m"},
		{nix.PartHunk, false, "@@ -1 +1 @@", "\x1b[36m@@ -1 +1 @@\x1b[m"},
		{nix.PartLineRemoved, false, "-\told", "\x1b[31m-\told\x1b[m"},
		{nix.PartLineAdded, false, "+\tnew\\x1b[2J", "\x1b[32m+\tnew\\x1b[2J\x1b[m"},
		{0, false, "?", "?"},
	}
	for _, tt := range tests {
		got := s.Mark(tt.part, tt.selected, tt.text)
		if got != tt.want {
			t.Errorf("Mark(%d, %v, %q) = %q, want %q", tt.part, tt.selected, tt.text, got, tt.want)
		}
		// Colouring adds colour sequences and nothing else.
		if plain := sgr.ReplaceAllString(got, ""); plain != tt.text {
			t.Errorf("Mark(%d, %q) without its colours reads %q", tt.part, tt.text, plain)
		}
	}
}

// Paint colours by meaning on a terminal and leaves text as it is
// without colours.
func TestPaint(t *testing.T) {
	if got := New(colorprofile.NoTTY).Paint(New(colorprofile.ANSI).HostFailed, "web01 | failed"); got != "web01 | failed" {
		t.Errorf("plain Paint = %q", got)
	}
	s := New(colorprofile.ANSI)
	if got := s.Paint(s.HostFailed, "failed"); got != "\x1b[91mfailed\x1b[m" {
		t.Errorf("Paint(HostFailed) = %q", got)
	}
	if got := s.Paint(s.HostName, "web01"); got != "\x1b[1mweb01\x1b[m" {
		t.Errorf("Paint(HostName) = %q", got)
	}
}
