package nix

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// sgr matches the colour sequences DiffStyles itself writes.
var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// assertInert fails when out has a control character other than newline
// (tabs too: a diff line keeps its tabs), a C1 control or a bidi override.
func assertInert(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r <= 0x9f || r == '\u202e' {
			t.Fatalf("%s prints %U raw:\n%q", what, r, out)
		}
	}
}

// A closure is the host's word: package names and versions come from its
// store paths, which can hold an ESC. The diff prints them escaped, plain
// or coloured, and pads names by the width they are printed at.
func TestRenderHostileNames(t *testing.T) {
	old := closureOf("nixos-system-web1-1", "", map[string]int64{
		"evil\x1b[2J-1.0": 10, "tool-1.é": 10, "日本語-2.0": 10, "ok-1.0\rFAIL": 10,
	}, "evil\x1b[2J-1.0")
	new := closureOf("nixos-system-web1-2", "", map[string]int64{
		"evil\x1b[2J-1.1": 10, "tool-1.è": 10, "日本語-2.1": 10, "ok-1.1\rFAIL": 10,
		"clip-1.0\x1b]52;c;cm0gLXJmIH4K\x07": 10, "rtl\u202e-3": 10,
	}, "evil\x1b[2J-1.1")
	d := DiffClosures("/run/current-system", "result\x1b[H", old, new)
	var plain, color bytes.Buffer
	if err := d.Render(&plain, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Render(&color, DefaultDiffStyles()); err != nil {
		t.Fatal(err)
	}
	assertInert(t, "plain diff", plain.String())
	assertInert(t, "coloured diff", sgr.ReplaceAllString(color.String(), ""))
	if got := sgr.ReplaceAllString(color.String(), ""); got != plain.String() {
		t.Errorf("coloured diff reads differently from the plain one:\n%s\nplain:\n%s", got, plain.String())
	}
	want := `<<< /run/current-system
>>> result\x1b[H
Version changes:
[U*]  #1  evil\x1b[2J        1.0 -> 1.1
[U.]  #2  nixos-system-web1  1 -> 2
[U.]  #3  ok                 1.0\x0dFAIL -> 1.1\x0dFAIL
[D.]  #4  tool               1.é -> 1.è
[U.]  #5  日本語             2.0 -> 2.1
Added packages:
[A.]  #1  clip       1.0\x1b]52;c;cm0gLXJmIH4K\x07
[A.]  #2  rtl\u202e  3
Closure size: 5 -> 7 (7 paths added, 5 paths removed, delta +2, disk usage +20B).
`
	if plain.String() != want {
		t.Errorf("diff:\n%s\nwant:\n%s", plain.String(), want)
	}
	// The version highlight starts at the first differing character,
	// whole: "1.é" and "1.è" share a byte of é.
	if !strings.Contains(color.String(), DefaultDiffStyles().NewChange.Render("è")) {
		t.Errorf("coloured diff does not highlight è whole:\n%q", color.String())
	}
}

// File paths, link targets and file contents under etc/ are the host's.
func TestFileDiffRenderHostileText(t *testing.T) {
	files := []FileDiff{
		{Path: "etc/motd\x1b[2J", Status: "modified", OldSize: 3, NewSize: 4,
			Unified: UnifiedDiff("hi\n", "hi\x1b]52;c;eA==\x07\n\tok\r\n", 3)},
		{Path: "etc/localtime", Status: "modified", OldType: KindLink, NewType: KindLink, OldLink: "/etc/zoneinfo/\u202eUTC", NewLink: "/etc/zoneinfo/UTC\x1b[H"},
		{Path: "etc/big\x9b", Status: "added", OldSize: -1, NewSize: 1 << 20, TooLarge: true},
	}
	for _, st := range []*DiffStyles{nil, DefaultDiffStyles()} {
		var out strings.Builder
		for _, f := range files {
			out.WriteString(f.Render(st))
		}
		got := sgr.ReplaceAllString(out.String(), "")
		assertInert(t, "file diff", got)
		if st != nil {
			continue
		}
		want := "--- a/etc/motd\\x1b[2J\n+++ b/etc/motd\\x1b[2J\n@@ -1 +1,2 @@\n-hi\n+hi\\x1b]52;c;eA==\\x07\n+\tok\\x0d\n" +
			"etc/localtime: modified, link to /etc/zoneinfo/\\u202eUTC -> link to /etc/zoneinfo/UTC\\x1b[H\n" +
			"etc/big\\x9b: added, larger than 256 KiB (old absent, new 1048576 bytes): not shown\n"
		if got != want {
			t.Errorf("file diffs:\n%q\nwant\n%q", got, want)
		}
	}
}
