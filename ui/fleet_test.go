package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
)

// On start the console reads every host's state and builds every host's
// system at once; the table then shows each host's state, generation,
// label and drift (the web hosts' build differs from what they run).
func TestStartReadsStatesAndBuildsForDrift(t *testing.T) {
	d := start(t, testFleet(), upToDate)
	calls := d.eng.called()
	for _, want := range []string{"ReadStates canary1,web01,db01,web02", "Build canary1,web01,db01,web02"} {
		if !slices.Contains(calls, want) {
			t.Errorf("calls %q, want %q among them", calls, want)
		}
	}
	for host, drift := range map[string]string{"canary1": " no ", "web01": " drift ", "db01": " no ", "web02": " drift "} {
		l := d.line(host)
		for _, want := range []string{" up ", "2 24.05.r2", drift} {
			if !strings.Contains(l, want) {
				t.Errorf("%s's row %q does not say %q", host, l, want)
			}
		}
	}
}

// While a host's state is being read its row spins and says so; a host
// that cannot be reached says why in its row.
func TestRefreshSpinsAndShowsTheCause(t *testing.T) {
	d := start(t, testFleet(), upToDate)
	d.resize(160, 48)
	reading := d.h.stream()
	d.eng.next = []*stream{reading, d.h.ended()} // the states, then the build
	d.press("R")
	if !strings.Contains(d.line("web01"), "refreshing") {
		t.Fatalf("a host being read: %q", d.line("web01"))
	}
	spin := d.line("web01")
	if !d.tick() {
		t.Fatal("no redraw tick while hosts are read")
	}
	if d.line("web01") == spin {
		t.Error("the spinner did not turn on the tick")
	}
	dial := errors.New("web01 (10.0.0.1:2201): dial: connection refused")
	reading.push(true, upToDateState("canary1"), fleet.DoneEvent{EventBase: base("status", "canary1")},
		fleet.DoneEvent{EventBase: base("status", "web01"), Err: &fleet.HostError{Host: "web01", Err: dial}},
		fleet.DoneEvent{EventBase: base("status", "db01")}, fleet.DoneEvent{EventBase: base("status", "web02")})
	d.settle()
	if l := d.line("web01"); !strings.Contains(l, "unreachable: dial: connection refused") {
		t.Errorf("an unreachable host's row: %q", l)
	}
	d.hides("refreshing")
	d.tick()
	if d.tick() {
		t.Error("the tick goes on with nothing to redraw")
	}
}

func upToDateState(h string) fleet.Event { return state(h, 2, 2) }

// The last outcome of each host comes from the history at start, with
// how long ago; a host the history does not know has none.
func TestLastOutcomeFromTheHistory(t *testing.T) {
	d := start(t, testFleet(), upToDate, func(e *fakeEngine, c *Config) {
		writeHistory(t, c.StateDir,
			fleet.HistoryRecord{OpID: "deploy-1", Host: "web01", Kind: "deploy", Action: "switch", Outcome: "done", Time: testNow.Add(-3 * time.Hour)},
			fleet.HistoryRecord{OpID: "deploy-2", Host: "web01", Kind: "deploy", Action: "switch", Outcome: "rolled back", Time: testNow.Add(-5 * time.Minute)},
			fleet.HistoryRecord{OpID: "deploy-2", Host: "db01", Kind: "deploy", Action: "switch", Outcome: "failed", Time: testNow.Add(-4 * 24 * time.Hour)})
	})
	d.resize(160, 48)
	for host, want := range map[string]string{"web01": "rolled back 5m ago", "db01": "failed 4d ago"} {
		if l := d.line(host); !strings.HasSuffix(strings.TrimSpace(l), want) {
			t.Errorf("%s: %q, want it to end %q", host, l, want)
		}
	}
	if l := d.line("canary1"); strings.Contains(l, "ago") {
		t.Errorf("canary1 has no history but shows %q", l)
	}
}

// writeHistory writes records as the history file keeps them.
func writeHistory(t *testing.T, dir string, recs ...fleet.HistoryRecord) {
	t.Helper()
	h, err := fleet.OpenHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(historyLine(r) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, fleet.HistoryFile), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Moving: j k and the arrows by one, pgup pgdn by a page, home and end
// to the ends; the cursor stays on the list.
func TestFleetMoving(t *testing.T) {
	d := start(t, bigFleet(60))
	cur := func() string { return d.m.table.current().node.Name }
	steps := []struct {
		keys []string
		want string
	}{
		{nil, "host000"},
		{[]string{"j", "down"}, "host002"},
		{[]string{"k"}, "host001"},
		{[]string{"up", "up", "up"}, "host000"},
		{[]string{"pgdown"}, "host019"},
		{[]string{"end"}, "host059"},
		{[]string{"j"}, "host059"},
		{[]string{"pgup"}, "host040"},
		{[]string{"home"}, "host000"},
	}
	for _, s := range steps {
		d.press(s.keys...)
		if cur() != s.want {
			t.Fatalf("after %v the cursor is on %s, want %s", s.keys, cur(), s.want)
		}
		d.shows(">  " + s.want)
	}
}

// space selects and unselects the highlighted host, a every host the
// filter shows, A clears the selection; the marks and the title say it.
func TestSelection(t *testing.T) {
	d := start(t, testFleet(), upToDate)
	d.press("j", "space")
	d.shows("> *web01", "1 selected")
	d.press("space")
	d.hides("*web01", "selected")
	d.press("/")
	d.typeText("@web")
	d.press("enter", "a")
	d.shows("*web01", "*web02", "2 selected")
	d.press("esc") // clears the filter, keeps the selection
	d.shows("canary1", "db01", "2 selected")
	if got := nodeNames(targetNodes(d.m)); got != "web01,web02" {
		t.Errorf("targets %s, want the selected web01,web02", got)
	}
	d.press("A")
	d.hides("selected")
	if got := nodeNames(targetNodes(d.m)); got != "web01" {
		t.Errorf("without a selection the target is %s, want the highlighted web01", got)
	}
}

func targetNodes(m *Model) []*fleet.Node {
	var ns []*fleet.Node
	for _, r := range m.table.targets() {
		ns = append(ns, r.node)
	}
	return ns
}

// / filters as it is typed, by name or @tag (several terms all match);
// enter keeps the filter, esc in it clears it, esc on the list too.
func TestFilter(t *testing.T) {
	d := start(t, testFleet(), upToDate)
	d.press("/")
	d.typeText("web")
	d.shows("web01", "web02")
	d.hides("canary1", "db01")
	d.typeText(" 2")
	d.shows("web02")
	d.hides("web01")
	d.press("esc")
	d.shows("canary1", "web01", "db01", "web02")
	d.press("/")
	d.typeText("@d")
	d.press("enter")
	d.shows("db01", "filter /@d (1 of 4 hosts")
	d.hides("web01")
	d.press("j") // the list has the keys again
	d.press("esc")
	d.shows("web01")
	d.hides("filter /")
	d.press("/")
	d.typeText("nothing")
	d.shows("no host matches the filter")
}

// enter shows everything known of the host, the full error included;
// esc goes back.
func TestDetails(t *testing.T) {
	d := start(t, testFleet(), upToDate, func(e *fakeEngine, c *Config) {
		e.errs["db01"] = &fleet.HostError{Host: "db01", Step: "read host state", Err: errors.New("sudo: a password is required\nsecond line")}
	})
	d.press("j", "j", "enter")
	d.shows("db01", "error", "read host state: sudo: a password is required", "second line", "drift")
	d.press("esc")
	d.shows("NAME", "TAGS")
}

// bigFleet is n hosts named host000…, up to date, without a build.
func bigFleet(n int) *fleet.Fleet {
	f := &fleet.Fleet{Path: "/srv/big/fleet.yaml", Dir: "/srv/big", Flake: "/srv/big/flake",
		Deploy: fleet.Deploy{Action: "switch", Parallel: 50, MaxFailures: 5}}
	for i := range n {
		f.Nodes = append(f.Nodes, &fleet.Node{Name: "host" + pad3(i), Host: "10.1.0.1", Tags: []string{[]string{"web", "db", "cache"}[i%3]},
			Settings: fleet.Settings{Port: 2000 + i}})
	}
	return f
}

func pad3(i int) string { return fmt.Sprintf("%03d", i) }

// historyLine is a record as the history file holds it.
func historyLine(r fleet.HistoryRecord) string {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return string(b)
}
