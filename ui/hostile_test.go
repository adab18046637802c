package ui

import (
	"errors"
	"strings"
	"testing"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// Text from hosts (a version label, a lock holder, an error, a log line,
// a diff's package names) and from the history file reaches the frame
// made visible: its escape sequences are shown, never obeyed.
func TestHostTextIsShownNotObeyed(t *testing.T) {
	d := start(t, testFleet(), withDiffs, func(e *fakeEngine, c *Config) {
		st := state("web01", 2, 2).(fleet.StateEvent)
		st.State.Version = "24.05\x1b[2J"
		e.states["web01"] = st
		db := state("db01", 2, 2).(fleet.StateEvent)
		db.State.NixdeckLock = nix.Lock{Known: true, Held: true, Holder: "eve\x1b]0;pwned\x07"}
		e.states["db01"] = db
		e.errs["web02"] = errors.New("web02: read host state: \x1b[31mred\x9b")
		e.diffs["web01"].Diff.Added = []nix.PackageChange{{Name: "evil\x1b[5m", State: "A", New: []string{"1\x1b[0m"}}}
		writeHistory(t, c.StateDir, fleet.HistoryRecord{OpID: "op\x1b[1m", Operator: "x\x1b[8m", Host: "canary1", Kind: "deploy",
			Action: "switch\x1b[3m", Outcome: "done\x1b[7m", Time: testNow})
	})
	d.resize(200, 50)
	check := func(where string) {
		t.Helper()
		if f := d.frame(); strings.ContainsAny(f, "\x1b\x07\x9b") {
			t.Fatalf("%s: a control character reached the frame:\n%q", where, f)
		}
	}
	check("fleet")
	d.shows(`24.05\x1b[2J`, `eve\x1b]0;pwned\x07`, `\x1b[31mred\x9b`, `done\x1b[7m`)
	d.press("j", "d")
	check("diff")
	d.shows(`evil\x1b[5m`)
	d.press("esc", "enter")
	check("details")
	d.press("esc", "H")
	check("history")
	d.shows(`switch\`, `op\x1b[1m`)
	d.press("esc", "s", "y")
	d.eng.ro.s.push(false, fleet.LogEvent{EventBase: base("deploy-test", "web01"), Source: "activate", Line: "\x1b[2Jboom\rback"})
	d.settle()
	d.tick()
	check("rollout")
	d.shows(`\x1b[2Jboom`)
}
