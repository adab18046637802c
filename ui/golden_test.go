package ui

import (
	"errors"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"nixdeck/fleet"
	"nixdeck/nix"
	"nixdeck/ui/internal/uitest"
	"nixdeck/ui/styles"
)

// goldenFleet is a fleet table with every kind of row: up to date, drift,
// a reboot needed, unreachable, locked by another operator, a selected
// host, last outcomes from the history.
func goldenFleet(t *testing.T) option {
	return func(e *fakeEngine, c *Config) { goldenStates(t, e, c) }
}

func goldenStates(t *testing.T, e *fakeEngine, c *Config) {
	withDiffs(e, c)
	e.states["web01"] = state("web01", 2, 2)
	e.states["web01"].(fleet.StateEvent).State.RebootNeeded = true
	db := state("db01", 3, 4).(fleet.StateEvent)
	db.State.NixdeckLock = nix.Lock{Known: true, Held: true, Holder: "ann@desk deploy-20240701T115500-c0ffee"}
	e.states["db01"] = db
	e.errs["web02"] = &fleet.HostError{Host: "web02", Err: errors.New("web02 (10.0.0.2:2203): dial: connect: no route to host")}
	writeHistory(t, c.StateDir,
		fleet.HistoryRecord{OpID: "deploy-1", Host: "web01", Kind: "deploy", Action: "switch", Outcome: "done", Time: testNow.Add(-26 * time.Hour)},
		fleet.HistoryRecord{OpID: "deploy-1", Host: "canary1", Kind: "deploy", Action: "switch", Outcome: "rolled back", Time: testNow.Add(-26 * time.Hour)})
}

// frames renders the console's screens at w x h in st's colours.
func frames(t *testing.T) uitest.Frames {
	return func(st *styles.Styles, w, h int) map[string]string {
		profile := colorprofile.ANSI
		if st.Plain() {
			profile = colorprofile.NoTTY
		}
		colours := func(e *fakeEngine, c *Config) { c.Profile = profile }
		out := map[string]string{}

		d := start(t, testFleet(), colours, goldenFleet(t))
		d.resize(w, h)
		d.press("j", "space", "j")
		out["fleet"] = d.frame()

		d = start(t, testFleet(), colours, withGenerations)
		d.resize(w, h)
		d.press("j", "j", "g", "j", "j")
		out["generations"] = d.frame()

		d = start(t, testFleet(), colours, withDiffs)
		d.resize(w, h)
		d.press("j", "space", "end", "space", "s")
		out["confirm"] = d.frame()
		return out
	}
}

// The fleet table, the generations screen and the confirm dialog at
// 80x24 and 160x48, each frame exactly the terminal's size; in colour
// they say word for word what they say without.
func TestGoldenFrames(t *testing.T) {
	uitest.GoldenFrames(t, frames(t), "fleet")
}
