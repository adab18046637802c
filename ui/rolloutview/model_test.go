package rolloutview

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"nixdeck/fleet"
	"nixdeck/ui/internal/uitest"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// fakeControl records the pane's calls.
type fakeControl struct{ calls []string }

func (f *fakeControl) Pause()  { f.calls = append(f.calls, "pause") }
func (f *fakeControl) Resume() { f.calls = append(f.calls, "resume") }
func (f *fakeControl) Abort()  { f.calls = append(f.calls, "abort") }

var fiveHosts = []string{"web01", "web02", "web03", "db01", "db02"}

// newModel is a plain 100x20 pane on a five-host rollout with web01 as
// its canary and waves of two.
func newModel() (Model, *fakeControl) {
	m := New(styles.New(colorprofile.NoTTY), keys.Default())
	m.SetSize(100, 20)
	m.SetNow(t0.Add(30 * time.Second))
	ctl := &fakeControl{}
	m.SetControl(ctl)
	m.SetBudget(1)
	apply(&m, plan(fiveHosts, []string{"web01"}, 2))
	return m, ctl
}

func press(m Model, names ...string) Model {
	for _, n := range names {
		m, _ = m.Update(uitest.Key(n))
	}
	return m
}

// lineOf is the frame's line that mentions s, trailing spaces cut.
func lineOf(t *testing.T, m Model, s string) string {
	t.Helper()
	for _, l := range strings.Split(m.View(), "\n") {
		if strings.Contains(l, s) {
			return strings.TrimRight(l, " ")
		}
	}
	t.Fatalf("no line mentions %q:\n%s", s, m.View())
	return ""
}

// The plan shows as the title, the waves and a queued row per host.
func TestPlan(t *testing.T) {
	m, _ := newModel()
	for _, want := range []string{
		"deploy switch · 5 hosts · canary web01 · by root@deck · " + opID,
		"waves: 1 canary (web01) · 2 (2 hosts) · 3 (2 hosts)",
		"0 of 5 ended · failures 0 of 1 allowed · 30s",
		"running (p pauses, x aborts)",
		"HOST           PHASE           TIME   RESULT, COPY OR LAST LINE",
		"▶ · web01 (canary) queued",
		"  · db02           queued",
	} {
		lineOf(t, m, want)
	}
	if !slices.Equal(m.Hosts(), fiveHosts) || m.Focused() != "web01" || !m.Running() || len(m.InFlight()) != 0 {
		t.Errorf("hosts %q focused %q running %v in flight %q", m.Hosts(), m.Focused(), m.Running(), m.InFlight())
	}
}

// A host at work shows its phase, its copy's bar and counts, its last
// log line and the time since it started; the highlight follows the
// first host at work.
func TestHostAtWork(t *testing.T) {
	m, _ := newModel()
	apply(&m, one(fleet.WaveStarted{EventBase: at("", 1), Wave: 1, Canary: true, Hosts: []string{"web01"}}),
		phases("web01", 1, fleet.PhaseConnecting, fleet.PhaseReading, fleet.PhaseLocking, fleet.PhaseCopying),
		one(copying("web01", 5, 120, 300, 48<<20, 120<<20)),
		one(logLine("web01", 6, "copying path '/nix/store/abc-glibc' to host\x1b[2J\nsecond line\n")))
	row := lineOf(t, m, "web01 (canary)")
	if want := "» web01 (canary) copying         29s    ████████░░░░░░░░░░░░ 120/300 paths, 48.0MiB of 120.0MiB"; !strings.Contains(row, want) {
		t.Errorf("copying row %q, want %q", row, want)
	}
	lineOf(t, m, "1 canary (web01) running")
	if got := m.InFlight(); !slices.Equal(got, []string{"web01"}) {
		t.Errorf("in flight %q", got)
	}
	// Narrow, the copy leaves out its bytes.
	m.SetSize(60, 20)
	if row := lineOf(t, m, "web01 (cana…"); !strings.HasSuffix(row, "29s    ██░░░░ 120/300 paths") {
		t.Errorf("narrow row %q", row)
	}
	// Past the copy, the row shows the last line the host logged.
	apply(&m, phases("web01", 7, fleet.PhaseActivating))
	if row := lineOf(t, m, "web01 (cana…"); !strings.HasSuffix(row, "activating      29s    second line") {
		t.Errorf("activating row %q", row)
	}
	// The highlight follows the work.
	m.SetSize(100, 20)
	apply(&m, done("web01", 20, fleet.OutcomeDone, "", false),
		one(fleet.WaveHealthy{EventBase: at("", 21), Wave: 1}),
		one(fleet.WaveStarted{EventBase: at("", 21), Wave: 2, Hosts: []string{"web02", "web03"}}),
		phases("web03", 22, fleet.PhaseConnecting))
	if m.Focused() != "web03" {
		t.Errorf("highlight on %q, want web03 at work", m.Focused())
	}
	lineOf(t, m, "waves: 1 canary (web01) healthy · 2 (2 hosts) running · 3 (2 hosts)")
	if row := lineOf(t, m, "web01 (canary)"); !strings.Contains(row, "✓ web01 (canary) done") || !strings.Contains(row, "20s") ||
		!strings.Contains(row, "done, generation 41 → 42") {
		t.Errorf("done row %q", row)
	}
}

// Each outcome has its mark and words; the failures the engine counts
// against the budget are counted, the others not.
func TestOutcomes(t *testing.T) {
	m := New(styles.New(colorprofile.NoTTY), keys.Default())
	m.SetSize(160, 20)
	m.SetNow(t0.Add(9 * time.Second))
	hosts := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	apply(&m, plan(hosts, nil, 8))
	for _, h := range hosts {
		apply(&m, phases(h, 1, fleet.PhaseConnecting))
	}
	apply(&m,
		done("a", 9, fleet.OutcomeDone, "reboot needed", false),
		done("b", 9, fleet.OutcomeUnchanged, "", false),
		done("c", 9, fleet.OutcomeFailed, "activate: units failed: nginx.service", false),
		done("d", 9, fleet.OutcomeRolledBack, "health: http://d/: 503", false),
		done("e", 9, fleet.OutcomeUnknown, "stopped waiting during the activation", true),
		done("f", 9, fleet.OutcomeUnreachable, "connect: connection refused", false),
		done("g", 9, fleet.OutcomeSkipped, "not started: the rollout halted", false),
		done("h", 9, fleet.OutcomeUnknown, "connection lost during the activation", false))
	for host, want := range map[string]string{
		"a": "✓ a    done ", "b": "= b    done ", "c": "✗ c    failed ", "d": "~ d    failed ",
		"e": "? e    interrupted ", "f": "✗ f    failed ", "g": "- g    interrupted ", "h": "? h    failed ",
	} {
		if row := lineOf(t, m, " "+want); row == "" {
			t.Errorf("%s: no row %q", host, want)
		}
	}
	for _, want := range []string{
		"done, generation 41 → 42: reboot needed",
		"failed: activate: units failed: nginx.service",
		"rolled back: health: http://d/: 503",
		"unknown (interrupted): stopped waiting during the activation",
		"unreachable: connect: connection refused",
		"skipped: not started: the rollout halted",
		"8 of 8 ended: 1 done, 1 unchanged, 1 failed, 1 rolled back, 2 unknown, 1 unreachable, 1 skipped · 3 failures · 9s",
	} {
		lineOf(t, m, want)
	}
}

// The rollout's state line follows its control events, in words.
func TestStates(t *testing.T) {
	m, _ := newModel()
	apply(&m, phases("web01", 1, fleet.PhaseActivating))
	steps := []struct {
		e    fleet.Event
		want string
	}{
		{fleet.RolloutPaused{EventBase: at("", 2), Paused: true}, "paused: no new host starts (p resumes, x aborts)"},
		{fleet.RolloutPaused{EventBase: at("", 3)}, "running (p pauses, x aborts)"},
		{fleet.RolloutHalted{EventBase: at("", 4), Reason: "canary web01 failed: activate\x1b[31m"}, `halted: canary web01 failed: activate\x1b[31m; no new host starts`},
		{fleet.AbortRequested{EventBase: at("", 5)}, "aborting: no new host starts; waiting for web01 (x again: stop waiting)"},
		{fleet.AbortRequested{EventBase: at("", 6), Second: true}, "stopped waiting for web01: they complete or roll back on their own"},
		{fleet.OpFinished{EventBase: at("", 7)}, `finished, halted: canary web01 failed: activate\x1b[31m`},
	}
	for _, s := range steps {
		m.Apply(s.e)
		lineOf(t, m, s.want)
	}
	if m.Running() {
		t.Error("still running after OpFinished")
	}
	lineOf(t, m, "0 of 5 ended · failures 0 of 1 allowed · 7s") // the clock stops at the end

	refused, _ := newModel()
	apply(&refused, done("web01", 0, fleet.OutcomeSkipped, "not started: the plan was refused", false),
		one(fleet.OpFinished{EventBase: at("", 0), Err: fmt.Errorf("host db02: no built system to deploy")}))
	lineOf(t, refused, "refused: host db02: no built system to deploy")

	ended, _ := newModel()
	apply(&ended, one(fleet.OpFinished{EventBase: at("", 1)}))
	lineOf(t, ended, "finished")
	// A second abort with nothing in flight, and a host ended without an
	// outcome (the engine always sends one; the pane does not count on it).
	m, _ = newModel()
	apply(&m, one(fleet.AbortRequested{EventBase: at("", 1)}))
	lineOf(t, m, "aborting: no new host starts")
	apply(&m, one(fleet.DoneEvent{EventBase: at("db02", 2), Err: fmt.Errorf("db02: lost")}))
	lineOf(t, m, "✗ db02           queued")
	lineOf(t, m, "failed: db02: lost")
}

// Events of another operation, and events before any OpStarted, change
// nothing; a second OpStarted does not replace the rollout.
func TestOtherOperations(t *testing.T) {
	m := New(styles.New(colorprofile.NoTTY), keys.Default())
	m.SetSize(80, 10)
	m.Apply(fleet.PhaseEvent{EventBase: at("web01", 0), Phase: fleet.PhaseCopying})
	if m.Running() || m.Focused() != "" || !strings.Contains(m.View(), "no rollout yet") {
		t.Errorf("an event before OpStarted took: %q", m.View())
	}
	m, _ = newModel()
	before := m.View()
	other := fleet.EventBase{OpID: "journal-x", HostName: "web01", Time: t0}
	m.Apply(fleet.PhaseEvent{EventBase: other, Phase: fleet.PhaseFailed})
	m.Apply(fleet.LogEvent{EventBase: other, Line: "journal line"})
	m.Apply(fleet.OpStarted{EventBase: fleet.EventBase{OpID: "diff-y", Time: t0}, Kind: "diff", Hosts: []string{"z"}})
	m.Apply(fleet.PhaseEvent{EventBase: at("nobody", 0), Phase: fleet.PhaseCopying})
	m.Apply(fleet.WaveStarted{EventBase: at("", 1), Wave: 9})
	m.Apply(fleet.WaveHealthy{EventBase: at("", 1), Wave: 0})
	if m.View() != before {
		t.Errorf("another operation's events changed the pane:\n%s", m.View())
	}
}

// The keys move the highlight within the rows (and scroll them), f goes
// back to following the work, p and x drive the Control.
func TestKeys(t *testing.T) {
	m := New(styles.New(colorprofile.NoTTY), keys.Default())
	m.SetSize(80, 15) // 10 rows in view
	m.SetNow(t0.Add(time.Minute))
	var hosts []string
	for i := range 40 {
		hosts = append(hosts, fmt.Sprintf("h%02d", i))
	}
	apply(&m, plan(hosts, nil, 10), phases("h05", 1, fleet.PhaseConnecting))
	if m.Focused() != "h05" {
		t.Fatalf("highlight on %q, want the host at work", m.Focused())
	}
	for _, step := range []struct {
		key, want string
	}{
		{"j", "h06"}, {"down", "h07"}, {"k", "h06"}, {"up", "h05"},
		{"pgdown", "h14"}, {"pgup", "h05"}, {"end", "h39"}, {"down", "h39"}, {"home", "h00"}, {"up", "h00"},
	} {
		m = press(m, step.key)
		if m.Focused() != step.want {
			t.Errorf("%s → %q, want %q", step.key, m.Focused(), step.want)
		}
		if row := lineOf(t, m, "▶ "); !strings.Contains(row, " "+step.want+" ") {
			t.Errorf("%s: the highlighted row is not in view:\n%s", step.key, m.View())
		}
	}
	apply(&m, phases("h20", 2, fleet.PhaseConnecting))
	if m.Focused() != "h00" {
		t.Errorf("the highlight moved by itself after a key: %q", m.Focused())
	}
	m = press(m, "f")
	if m.Focused() != "h05" {
		t.Errorf("f → %q, want the first host at work", m.Focused())
	}

	m, ctl := newModel()
	m = press(m, "p")
	lineOf(t, m, "pausing…")
	m.Apply(fleet.RolloutPaused{EventBase: at("", 1), Paused: true})
	m = press(m, "p")
	lineOf(t, m, "resuming…")
	m = press(m, "x", "x", "x")
	if want := []string{"pause", "resume", "abort", "abort"}; !slices.Equal(ctl.calls, want) {
		t.Errorf("calls %q, want %q", ctl.calls, want)
	}
	lineOf(t, m, "stopping the wait…")
	m.Apply(fleet.AbortRequested{EventBase: at("", 2)})
	m = press(m, "p") // no pause once aborted
	m.Apply(fleet.OpFinished{EventBase: at("", 3)})
	m = press(m, "x")
	if len(ctl.calls) != 4 {
		t.Errorf("calls after the abort and the end: %q", ctl.calls)
	}
	// Without a Control, p and x do nothing; other keys and messages
	// are the parent's.
	m, _ = newModel()
	m.SetControl(nil)
	before := m.View()
	m = press(m, "p", "x", "q", "tab", "l")
	if m2, cmd := m.Update(tea.WindowSizeMsg{Width: 1, Height: 1}); m2.View() != before || cmd != nil || m.View() != before {
		t.Errorf("keys without a control, or other messages, changed the pane")
	}
}

// A pane too low for the whole head keeps the title, the progress and
// the state, and still shows the highlighted row; a pane of no size
// draws nothing.
func TestSmallPane(t *testing.T) {
	m, _ := newModel()
	m.SetSize(80, 5)
	m = press(m, "end")
	v := m.View()
	uitest.Size(t, v, 80, 5)
	lines := strings.Split(v, "\n")
	if !strings.HasPrefix(lines[0], "deploy switch") || !strings.Contains(lines[1], "0 of 5 ended") ||
		!strings.HasPrefix(lines[2], "running") || !strings.HasPrefix(lines[4], "▶ · db02") {
		t.Errorf("small pane:\n%s", v)
	}
	m.SetSize(0, 0)
	if m.View() != "" {
		t.Errorf("a pane of no size drew %q", m.View())
	}
}

// A host's row says where its paths came from, and why the operator sent
// them when the cache failed it.
func TestRowSaysWhereThePathsCameFrom(t *testing.T) {
	m, _ := newModel()
	apply(&m, phases("web01", 1, fleet.PhaseConnecting, fleet.PhaseCopying),
		one(fleet.CopySourceEvent{EventBase: at("web01", 3), Substituting: true, FromCache: 41, FromOperator: 3, Bytes: 1258291}),
		done("web01", 4, fleet.OutcomeDone, "", false),
		phases("web02", 1, fleet.PhaseConnecting, fleet.PhaseCopying),
		one(fleet.CopySourceEvent{EventBase: at("web02", 3), Substituting: true, FromOperator: 44, Bytes: 9 << 20, Problem: "unreachable", Fallback: true,
			Detail: "unable to download 'http://cache:8080/nix-cache-info': Couldn't connect to server (7)"}),
		done("web02", 4, fleet.OutcomeDone, "", false))
	m.SetSize(200, 20)
	if l := lineOf(t, m, "cache 41"); !strings.Contains(l, "web01") || !strings.HasSuffix(l, "done, generation 41 → 42 · cache 41, operator 3 (1.2MiB)") {
		t.Errorf("web01: %q", l)
	}
	if l := lineOf(t, m, "operator 44"); !strings.Contains(l, "web02") || !strings.Contains(l, "cache 0, operator 44 (9.0MiB); fell back to the operator's copy: unreachable: unable to download") {
		t.Errorf("web02: %q", l)
	}
}
