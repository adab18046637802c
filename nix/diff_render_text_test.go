package nix

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

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

// partNames name the parts in tagMarker's output.
var partNames = map[DiffPart]string{PartUpgrade: "U", PartDowngrade: "D", PartChanged: "C", PartAdded: "A",
	PartRemoved: "R", PartPackage: "pkg", PartVersion: "ver", PartVersionOld: "old", PartVersionNew: "new",
	PartFileHeader: "hdr", PartHunk: "hunk", PartLineRemoved: "del", PartLineAdded: "add"}

// tagMarker writes each part as ⟦name:text⟧ (⟦name*:text⟧ when selected)
// and checks that what it is given is one line of visible text.
type tagMarker struct{ t *testing.T }

func (m tagMarker) Mark(p DiffPart, selected bool, text string) string {
	m.t.Helper()
	assertInert(m.t, "text given to Mark", text)
	if strings.Contains(text, "\n") {
		m.t.Errorf("Mark(%s) got more than a line: %q", partNames[p], text)
	}
	name, ok := partNames[p]
	if !ok {
		m.t.Errorf("Mark got an unknown part %d", p)
	}
	if selected {
		name += "*"
	}
	return "⟦" + name + ":" + text + "⟧"
}

// untag removes tagMarker's marks.
var untag = regexp.MustCompile(`⟦[a-zA-Z]+\*?:|⟧`)

// A closure is the host's word: package names and versions come from its
// store paths, which can hold an ESC. The diff prints them escaped, plain
// or marked, and pads names by the width they are printed at.
func TestRenderHostileNames(t *testing.T) {
	old := closureOf("nixos-system-web1-1", "", map[string]int64{
		"evil\x1b[2J-1.0": 10, "tool-1.é": 10, "日本語-2.0": 10, "ok-1.0\rFAIL": 10,
	}, "evil\x1b[2J-1.0")
	new := closureOf("nixos-system-web1-2", "", map[string]int64{
		"evil\x1b[2J-1.1": 10, "tool-1.è": 10, "日本語-2.1": 10, "ok-1.1\rFAIL": 10,
		"clip-1.0\x1b]52;c;cm0gLXJmIH4K\x07": 10, "rtl\u202e-3": 10,
	}, "evil\x1b[2J-1.1")
	d := DiffClosures("/run/current-system", "result\x1b[H", old, new)
	var plain, marked bytes.Buffer
	if err := d.Render(&plain, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Render(&marked, tagMarker{t}); err != nil {
		t.Fatal(err)
	}
	assertInert(t, "plain diff", plain.String())
	if got := untag.ReplaceAllString(marked.String(), ""); got != plain.String() {
		t.Errorf("marked diff reads differently from the plain one:\n%s\nplain:\n%s", got, plain.String())
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
	// Each part is marked by its meaning; the version highlight starts
	// at the first differing character, whole: "1.é" and "1.è" share a
	// byte of é.
	for _, line := range []string{
		`[⟦U*:U⟧⟦pkg*:*⟧]  #1  ⟦pkg*:evil\x1b[2J      ⟧  ⟦ver:1.⟧⟦old:0⟧ -> ⟦ver:1.⟧⟦new:1⟧`,
		`[⟦D:D⟧⟦pkg:.⟧]  #4  ⟦pkg:tool             ⟧  ⟦ver:1.⟧⟦old:é⟧ -> ⟦ver:1.⟧⟦new:è⟧`,
		`[⟦A:A⟧⟦pkg:.⟧]  #2  ⟦pkg:rtl\u202e⟧  ⟦ver:3⟧`,
	} {
		if !strings.Contains(marked.String(), line+"\n") {
			t.Errorf("marked diff lacks %s:\n%s", line, marked.String())
		}
	}
}

// File paths, link targets and file contents under etc/ are the host's.
func TestFileDiffRenderHostileText(t *testing.T) {
	files := []FileDiff{
		{Path: "etc/motd\x1b[2J", Status: "modified", OldSize: 3, NewSize: 4,
			Unified: UnifiedDiff("hi\n", "hi\x1b]52;c;eA==\x07\n\tok\r\n", 3)},
		{Path: "etc/localtime", Status: "modified", OldType: KindLink, NewType: KindLink, OldLink: "/etc/zoneinfo/\u202eUTC", NewLink: "/etc/zoneinfo/UTC\x1b[H"},
		{Path: "etc/big\x9b", Status: "added", OldSize: -1, NewSize: 1 << 20, TooLarge: true},
		{Path: "etc/new", Status: "added", OldSize: -1, NewSize: 4, Unified: UnifiedDiff("", "x\ny", 3)},
	}
	var plain, marked strings.Builder
	for _, f := range files {
		plain.WriteString(f.Render(nil))
		marked.WriteString(f.Render(tagMarker{t}))
	}
	assertInert(t, "file diff", plain.String())
	want := "--- a/etc/motd\\x1b[2J\n+++ b/etc/motd\\x1b[2J\n@@ -1 +1,2 @@\n-hi\n+hi\\x1b]52;c;eA==\\x07\n+\tok\\x0d\n" +
		"etc/localtime: modified, link to /etc/zoneinfo/\\u202eUTC -> link to /etc/zoneinfo/UTC\\x1b[H\n" +
		"etc/big\\x9b: added, larger than 256 KiB (old absent, new 1048576 bytes): not shown\n" +
		"--- /dev/null\n+++ b/etc/new\n@@ -0,0 +1,2 @@\n+x\n+y\n\\ No newline at end of file\n"
	if plain.String() != want {
		t.Errorf("file diffs:\n%q\nwant\n%q", plain.String(), want)
	}
	if got := untag.ReplaceAllString(marked.String(), ""); got != plain.String() {
		t.Errorf("marked file diffs read differently from the plain ones:\n%q\nplain:\n%q", got, plain.String())
	}
	// Every line of a text diff is marked on its own, tabs and all; the
	// one-line descriptions and "\ No newline" stay plain.
	wantMarked := "⟦hdr:--- a/etc/motd\\x1b[2J⟧\n⟦hdr:+++ b/etc/motd\\x1b[2J⟧\n⟦hunk:@@ -1 +1,2 @@⟧\n⟦del:-hi⟧\n" +
		"⟦add:+hi\\x1b]52;c;eA==\\x07⟧\n⟦add:+\tok\\x0d⟧\n" +
		"etc/localtime: modified, link to /etc/zoneinfo/\\u202eUTC -> link to /etc/zoneinfo/UTC\\x1b[H\n" +
		"etc/big\\x9b: added, larger than 256 KiB (old absent, new 1048576 bytes): not shown\n" +
		"⟦hdr:--- /dev/null⟧\n⟦hdr:+++ b/etc/new⟧\n⟦hunk:@@ -0,0 +1,2 @@⟧\n⟦add:+x⟧\n⟦add:+y⟧\n\\ No newline at end of file\n"
	if marked.String() != wantMarked {
		t.Errorf("marked file diffs:\n%q\nwant\n%q", marked.String(), wantMarked)
	}
}
