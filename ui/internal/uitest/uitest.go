// Package uitest holds what the console's component tests share: key
// presses built from their names, and golden files of rendered frames
// (testdata/NAME.golden, rewritten with `go test -update`). Only tests
// import it.
package uitest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"nixdeck/ui/internal/cells"
	"nixdeck/ui/styles"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the tests render")

// specialKeys are the key names the key map uses for keys that are not a
// printable character.
var specialKeys = map[string]rune{
	"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight,
	"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd,
	"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "space": tea.KeySpace,
	"backspace": tea.KeyBackspace,
}

// Key is the press of the key named as a key.Binding names it: "j", "N",
// "[", "pgdown", "esc", "space", "ctrl+c".
func Key(name string) tea.KeyPressMsg {
	var mod tea.KeyMod
	if rest, ok := strings.CutPrefix(name, "ctrl+"); ok {
		mod, name = tea.ModCtrl, rest
	}
	if code, ok := specialKeys[name]; ok {
		k := tea.KeyPressMsg{Code: code, Mod: mod}
		if code == tea.KeySpace {
			k.Text = " "
		}
		return k
	}
	r, _ := utf8.DecodeRuneInString(name)
	if mod != 0 {
		return tea.KeyPressMsg{Code: r, Mod: mod}
	}
	return tea.KeyPressMsg{Code: r, Text: name}
}

// Type is the presses of each character of s, as typed into a text input.
func Type(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

// Golden compares got with testdata/name.golden, or writes the file with
// -update. A frame is compared whole, trailing spaces included: they are
// what covers the previous frame.
func Golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the render (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// Size checks that a frame is exactly h lines of w cells: what the
// component was given, so that it neither wraps nor leaves the previous
// frame showing.
func Size(t *testing.T, frame string, w, h int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) != h {
		t.Errorf("frame has %d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := cells.Width(l); n != w {
			t.Errorf("line %d is %d cells wide, want %d: %q", i+1, n, w, l)
		}
	}
}

// Sizes are the terminal sizes every frame is checked at: the smallest
// the console supports and a wide one.
var Sizes = []struct{ W, H int }{{80, 24}, {160, 48}}

// Frames renders a component's states at a size with given styles, by
// name.
type Frames func(st *styles.Styles, w, h int) map[string]string

// GoldenFrames checks a component's frames: at each of Sizes without
// colour, every frame exactly that size and equal to its golden file
// (NAME-WxH.golden); at 80x24 with colour, every frame saying exactly
// what it says without once its colours are stripped (no meaning rests
// on colour alone: marks and words carry it), and frame colourName equal
// to NAME-80x24-colour.golden.
func GoldenFrames(t *testing.T, frames Frames, colourName string) {
	t.Helper()
	for _, sz := range Sizes {
		for name, v := range frames(styles.New(colorprofile.NoTTY), sz.W, sz.H) {
			t.Run(fmt.Sprintf("%s-%dx%d", name, sz.W, sz.H), func(t *testing.T) {
				Size(t, v, sz.W, sz.H)
				Golden(t, fmt.Sprintf("%s-%dx%d", name, sz.W, sz.H), v)
			})
		}
	}
	plain := frames(styles.New(colorprofile.NoTTY), 80, 24)
	coloured := frames(styles.New(colorprofile.ANSI), 80, 24)
	if _, ok := coloured[colourName]; !ok {
		t.Errorf("no frame %q to check in colour", colourName)
	}
	for name, v := range coloured {
		if name == colourName {
			Golden(t, name+"-80x24-colour", v)
		}
		if got := ansi.Strip(v); got != plain[name] {
			t.Errorf("%s: without its colours the frame reads\n%s\nwant\n%s", name, got, plain[name])
		}
	}
}
