package ui

import (
	"reflect"
	"testing"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"nixdeck/fleet"
	"nixdeck/ui/internal/uitest"
)

// places are the console's screens and dialogs, each reached by keys
// from the fleet screen of a console with a rollout running.
var places = []struct {
	name string
	keys []string
}{
	{"fleet", nil},
	{"filter", []string{"/"}},
	{"details", []string{"enter"}},
	{"generations", []string{"j", "j", "g"}},
	{"history", []string{"H"}},
	{"diff", []string{"d"}},
	{"logs", []string{"l"}},
	{"journal unit", []string{"J"}},
	{"rollout", []string{"tab"}},
	{"rollout log", []string{"tab", "tab"}},
	{"help", []string{"?"}},
	{"confirm", []string{"j", "j", "r"}},
	{"quit", []string{"q"}},
}

// everyKey is one press of each key of every binding of the key map.
func everyKey() []string {
	var ks []string
	v := reflect.ValueOf(testKeys)
	for i := range v.NumField() {
		ks = append(ks, v.Field(i).Interface().(key.Binding).Keys()...)
	}
	return ks
}

var testKeys = New(Config{Fleet: &fleet.Fleet{}}).keys

// Every key of the map, pressed on every screen and dialog, with and
// without a rollout running, in a terminal from 80x24 down to 30x8 and
// up to 200x60: nothing panics, and every frame is exactly the
// terminal's size, whatever was pressed.
func TestEveryKeyEverywhere(t *testing.T) {
	sizes := []struct{ w, h int }{{80, 24}, {30, 8}, {200, 60}}
	for _, rolling := range []bool{false, true} {
		for _, p := range places {
			for _, k := range everyKey() {
				everyKeyOnce(t, rolling, p.name, p.keys, k, sizes)
			}
		}
	}
}

func everyKeyOnce(t *testing.T, rolling bool, place string, keys []string, k string, sizes []struct{ w, h int }) {
	t.Helper()
	{
		{
			d := start(t, testFleet(), withGenerations, withDiffs)
			if rolling {
				d.press("end", "s", "y", "esc")
				d.eng.ro.s.push(false, fleet.PhaseEvent{EventBase: base("deploy-test", "web02"), Phase: fleet.PhaseCopying})
				d.settle()
			}
			d.press(keys...)
			before := d.m.screen
			d.press(k)
			for _, sz := range sizes {
				d.resize(sz.w, sz.h)
				uitest.Size(t, d.frame(), sz.w, sz.h)
			}
			if t.Failed() {
				t.Fatalf("rollout %v, %s (%v), then %q from %v: see above", rolling, place, keys, k, before)
			}
		}
	}
}

// A frame drawn in colour says what the plain one says, on every screen
// and dialog: no meaning rests on colour alone.
func TestColourAddsNoMeaning(t *testing.T) {
	state := t.TempDir()
	sameDir := func(e *fakeEngine, c *Config) { c.StateDir = state }
	for _, p := range places {
		plain := start(t, testFleet(), withGenerations, withDiffs, sameDir)
		colour := start(t, testFleet(), withGenerations, withDiffs, sameDir, func(e *fakeEngine, c *Config) { c.Profile = colorprofile.ANSI })
		for _, d := range []*driver{plain, colour} {
			d.press("j", "s", "y", "esc")
			d.press(p.keys...)
		}
		// A text input's cursor is drawn reversed in both: the plain
		// frame is compared without it.
		if got, want := ansi.Strip(colour.frame()), ansi.Strip(plain.frame()); got != want {
			t.Errorf("%s: in colour the frame reads\n%s\nwithout\n%s", p.name, got, want)
		}
	}
}
