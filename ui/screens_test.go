package ui

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// withGenerations is a fleet whose db01 runs generation 3 of 4 (4 is
// the profile's, booted on next boot: built with boot), each rollback
// diff downgrading curl.
func withGenerations(e *fakeEngine, c *Config) {
	upToDate(e, c)
	e.states["db01"] = state("db01", 3, 4)
	e.diffs["db01"] = &fleet.HostDiff{Host: "db01", Current: sys("db01", "r3"), New: sys("db01", "r2"), Diff: &nix.ClosureDiff{
		Old: "db01:/run/current-system", New: sys("db01", "r2"), OldPaths: 812, NewPaths: 810, PathsRemoved: 2, OldSize: 2 << 30, NewSize: 2<<30 - 3<<20,
		Versions: []nix.PackageChange{{Name: "curl", State: "D", Selection: "*", Old: []string{"8.9.1"}, New: []string{"8.7.1"}}}}}
}

// g lists the highlighted host's generations, newest first, with their
// marks; moving reads the diff of the generation under the cursor against
// the running one (once: moving back finds it kept); enter asks to roll
// back to it, and y starts a rollback to that generation.
func TestGenerations(t *testing.T) {
	d := start(t, testFleet(), withGenerations)
	d.resize(160, 48)
	d.press("j", "j", "g")
	d.shows("db01 · 4 generations", ">  4", "24.05.r4", "  3 ", "current, running, booted")
	if c := d.eng.called(); c[len(c)-1] != "DiffRollback(4) db01" {
		t.Fatalf("g read %q, want the diff of generation 4", c[len(c)-1])
	}
	d.press("j")
	d.shows("Going back to generation 3: it is the running system; nothing would change")
	d.press("j")
	d.shows("Going back to generation 2:", "curl", "8.9.1 -> 8.7.1")
	reads := len(d.eng.called())
	d.press("k", "j")
	if c := d.eng.called(); len(c) != reads {
		t.Errorf("moving back and forth read %q; the running one needs none, generation 2's is kept", c[reads:])
	}
	d.press("enter")
	d.shows("Roll back db01 to generation 2?")
	d.press("y")
	p := d.eng.plans[0]
	if p.Kind != fleet.PlanRollback || p.RollbackTo != 2 || nodeNames(p.Nodes) != "db01" {
		t.Errorf("the plan %+v", p)
	}
}

// enter on the running generation asks nothing; a host whose diff cannot
// be read says why; esc goes back to the fleet.
func TestGenerationsRunningAndErrors(t *testing.T) {
	d := start(t, testFleet(), withGenerations)
	d.resize(160, 48)
	d.eng.errs["db01"] = &fleet.HostError{Host: "db01", Err: errors.New("db01: query closure: no such path")}
	d.press("j", "j", "g", "j", "enter")
	d.shows("error: db01 runs generation 3 already")
	d.press("end")
	d.shows("Going back to generation 1: error: query closure: no such path")
	d.press("esc")
	d.shows("NAME", "TAGS")
	if d.eng.ro != nil {
		t.Error("a rollout started")
	}
}

// g on a host whose state was not read says so and stays.
func TestGenerationsWithoutState(t *testing.T) {
	d := start(t, testFleet(), func(e *fakeEngine, c *Config) { e.errs["canary1"] = errors.New("refused") })
	d.press("g")
	d.shows("error: canary1: its state has not been read (R reads it)")
	if d.m.screen != screenFleet {
		t.Error("left the fleet screen")
	}
}

// H lists past operations, newest first, one line each with what they
// did to how many hosts; enter reads that operation's logs from the log
// directory, [ ] between hosts, esc back to the history and the fleet.
func TestHistoryAndOperationLogs(t *testing.T) {
	d := start(t, testFleet(), upToDate, func(e *fakeEngine, c *Config) {
		at := testNow.Add(-time.Hour)
		writeHistory(t, c.StateDir,
			fleet.HistoryRecord{OpID: "deploy-20240701T110000-aaaaaa", Operator: "ann@desk", Host: "web01", Kind: "deploy", Action: "switch", Outcome: "done", Time: at, DurationMS: 4200},
			fleet.HistoryRecord{OpID: "deploy-20240701T110000-aaaaaa", Operator: "ann@desk", Host: "web02", Kind: "deploy", Action: "switch", Outcome: "failed", Time: at, DurationMS: 9000},
			fleet.HistoryRecord{OpID: "rollback-20240701T113000-bbbbbb", Operator: "bob@desk", Host: "web02", Kind: "rollback", Action: "switch", Outcome: "done", Time: at.Add(30 * time.Minute)})
		logs := filepath.Join(c.StateDir, fleet.LogsDir, "deploy-20240701T110000-aaaaaa")
		writeFile(t, filepath.Join(logs, "web01.log"), "2024-07-01T11:00:01.000Z [activate] starting the web server\n")
		writeFile(t, filepath.Join(logs, "web02.log"), "2024-07-01T11:00:02.000Z # outcome: failed: activate: units failed (exit 4)\n")
		writeFile(t, logs+".log", "2024-07-01T11:00:00.000Z # deploy started on web01, web02\n")
	})
	d.resize(160, 48)
	d.press("H")
	d.shows("> ", "rollback", "1 done", "bob@desk", "web01,web02", "1 done, 1 failed", "9s")
	if strings.Index(d.frame(), "bob@desk") > strings.Index(d.frame(), "ann@desk") {
		t.Error("the history is not newest first")
	}
	d.press("j", "enter")
	d.shows("web01 · log", "[activate] starting the web server")
	d.press("]")
	d.shows("web02 · log", "units failed (exit 4)")
	d.press("]")
	d.shows("(operation) · log", "deploy started on web01, web02")
	d.press("esc")
	d.shows("WHEN", "ACTION")
	d.press("esc")
	d.shows("NAME", "TAGS")
}

// An operation whose logs are gone says so; an id that is not a plain
// name is never read as a path.
func TestOperationLogsMissing(t *testing.T) {
	dir := t.TempDir()
	if msg := readOpLogs(dir, "deploy-x", []string{"web01"}, 10); msg.err == nil || !strings.Contains(msg.err.Error(), "no logs of deploy-x") {
		t.Errorf("missing logs: %v", msg.err)
	}
	writeFile(t, filepath.Join(dir, "secret.log"), "secret\n")
	for _, id := range []string{"..", "../x", "a/b", ""} {
		if msg := readOpLogs(filepath.Join(dir, "state"), id, []string{"../../secret"}, 10); msg.err == nil || len(msg.hosts) > 0 {
			t.Errorf("id %q read %v", id, msg.hosts)
		}
	}
	msg := readOpLogs(dir, "op", []string{"../secret"}, 10)
	if slices.Contains(msg.hosts, "../secret") {
		t.Error("a host name with a slash was read as a path")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ? shows every key of the map by group, scrolls, and esc (or ?) goes
// back where it was.
func TestHelp(t *testing.T) {
	d := start(t, testFleet(), upToDate)
	d.resize(160, 48)
	d.press("?")
	for _, g := range d.m.keys.Groups() {
		d.shows(g.Title)
	}
	d.shows("canary rollout", "journal", "previous host", "roll back to it", "abort")
	d.press("esc")
	d.shows("NAME")
	d.resize(80, 24)
	d.press("?")
	first := d.frame()
	d.press("pgdown")
	if d.frame() == first {
		t.Error("the help does not scroll at 80x24")
	}
	d.press("?")
	d.shows("NAME")
}

// d shows the diff of the targets against their build, /etc files
// included; a diff is read once while the host and the build stay the
// same; tab goes through the hosts; a host that cannot be diffed says why.
func TestDiffScreen(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.resize(160, 48)
	d.eng.errs["web02"] = errors.New("web02: read host state: broken pipe")
	d.press("j", "space", "end", "space", "d")
	if c := d.eng.called(); c[len(c)-1] != "Diff(built) web01,web02" {
		t.Fatalf("d read %q", c[len(c)-1])
	}
	d.shows("host 1/2 (tab)", "curl")
	d.press("tab")
	d.shows("web02 cannot be diffed", "broken pipe")
	d.press("esc", "d")
	if c := d.eng.called(); c[len(c)-1] != "Diff(built) web02" {
		t.Errorf("the second d read %q, want only the host without a diff", c[len(c)-1])
	}
	d.press("esc")
	d.shows("NAME")
}

// l follows the highlighted host's log; J asks for a unit and tails the
// host's journal into the same pane, J again (or esc) stops it.
func TestLogsAndJournal(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.resize(160, 48)
	d.press("j", "l")
	d.shows("web01 · log")
	d.press("esc", "J")
	d.shows("Journal of web01", "unit:")
	d.typeText("nginx.service")
	d.press("enter")
	if c := d.eng.called(); c[len(c)-1] != `Journal("nginx.service",200) web01` {
		t.Fatalf("J called %q", c[len(c)-1])
	}
	d.eng.jr.push(false, fleet.LogEvent{EventBase: base("journal", "web01"), Source: "journal", Line: "nginx[42]: started\x1b[2J"})
	d.settle()
	d.tick()
	d.shows("journal", "nginx[42]: started\\x1b[2J")
	d.press("J")
	d.hides("nginx[42]")
	d.press("J") // the focused host's whole journal
	if c := d.eng.called(); c[len(c)-1] != `Journal("",200) web01` {
		t.Errorf("J in the pane called %q", c[len(c)-1])
	}
	d.press("esc")
	d.shows("NAME")
	if d.m.jr != nil {
		t.Error("the tail goes on after esc")
	}
}

// tab on the fleet shows the rollout, tab there moves the keys between
// its rows and the log pane.
func TestRolloutScreenPanes(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.press("tab")
	d.shows("NAME") // no rollout yet
	d.press("a", "s", "y", "esc", "tab")
	d.shows("Switch running")
	if d.m.screen != screenRollout || d.m.logFocused {
		t.Fatal("tab did not show the rollout's rows")
	}
	d.press("tab")
	if !d.m.logFocused {
		t.Error("tab did not give the keys to the log pane")
	}
	d.press("tab", "esc")
	if d.m.screen != screenFleet {
		t.Error("esc did not go back")
	}
}
