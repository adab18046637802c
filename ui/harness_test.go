package ui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"nixdeck/fleet"
	"nixdeck/nix"
	"nixdeck/ui/internal/uitest"
)

// testNow is the console's clock in tests.
var testNow = time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)

// driver runs the console as Bubble Tea would, one message at a time on
// the test's goroutine, each command on its own goroutine; a timer's
// message (the redraw tick, a status line's end) waits until the test
// fires it.
type driver struct {
	t      *testing.T
	h      *hub
	eng    *fakeEngine
	m      *Model
	msgs   []tea.Msg // results of commands, under h.mu
	timers []tea.Msg
	quit   bool
}

// timerMsg is a message the console asked for later.
type timerMsg struct{ msg tea.Msg }

// option adjusts a test console before it starts.
type option func(*fakeEngine, *Config)

// start opens a console on f, at 80x24, without colours, and lets its
// first reads finish (the fake engine answers them from its fields).
func start(t *testing.T, f *fleet.Fleet, opts ...option) *driver {
	t.Helper()
	h := newHub()
	eng := newFakeEngine(h)
	cfg := Config{Fleet: f, Engine: eng, StateDir: t.TempDir(), RootDir: t.TempDir(), Owner: "op@desk",
		Profile: colorprofile.NoTTY, Now: func() time.Time { return testNow }}
	for _, o := range opts {
		o(eng, &cfg)
	}
	d := &driver{t: t, h: h, eng: eng, m: New(cfg)}
	d.m.after = func(_ time.Duration, msg tea.Msg) tea.Cmd { return func() tea.Msg { return timerMsg{msg} } }
	t.Cleanup(func() {
		d.m.Close()
		d.settle() // readers end with the console's context
	})
	d.deliver(tea.WindowSizeMsg{Width: 80, Height: 24})
	d.run(d.m.Init())
	d.settle()
	return d
}

// run starts cmd on its own goroutine, as Bubble Tea does.
func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	d.h.mu.Lock()
	d.h.inflight++
	d.h.mu.Unlock()
	go func() {
		msg := cmd()
		d.h.mu.Lock()
		defer d.h.mu.Unlock()
		d.h.inflight--
		if msg != nil {
			d.msgs = append(d.msgs, msg)
		}
		d.h.cond.Broadcast()
	}()
}

// settle delivers the commands' results until every command left is a
// reader waiting on a stream the test has not fed.
func (d *driver) settle() {
	for {
		d.h.mu.Lock()
		for len(d.msgs) == 0 && d.h.inflight > d.h.blocked {
			d.h.cond.Wait()
		}
		if len(d.msgs) == 0 {
			d.h.mu.Unlock()
			return
		}
		msg := d.msgs[0]
		d.msgs = d.msgs[1:]
		d.h.mu.Unlock()
		d.deliver(msg)
	}
}

// deliver hands msg to the console as the program loop would.
func (d *driver) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
		return
	case timerMsg:
		d.timers = append(d.timers, msg.msg)
		return
	case tea.QuitMsg:
		d.quit = true
		return
	}
	_, cmd := d.m.Update(msg)
	d.run(cmd)
}

// send delivers msgs one by one, settling after each.
func (d *driver) send(msgs ...tea.Msg) {
	for _, msg := range msgs {
		d.deliver(msg)
		d.settle()
	}
}

// press presses keys by their key map names ("j", "space", "esc").
func (d *driver) press(keys ...string) {
	for _, k := range keys {
		d.send(uitest.Key(k))
	}
}

// typeText types s into whatever input has the keys.
func (d *driver) typeText(s string) { d.send(uitest.Type(s)...) }

// tick fires the redraw tick, if one is waiting.
func (d *driver) tick() bool {
	for i, msg := range d.timers {
		if _, ok := msg.(tickMsg); ok {
			d.timers = append(d.timers[:i], d.timers[i+1:]...)
			d.send(msg)
			return true
		}
	}
	return false
}

// resize makes the terminal w by h.
func (d *driver) resize(w, h int) { d.send(tea.WindowSizeMsg{Width: w, Height: h}) }

// frame is what the console draws now.
func (d *driver) frame() string { return d.m.View().Content }

// shows fails unless the frame holds every one of want.
func (d *driver) shows(want ...string) {
	d.t.Helper()
	f := d.frame()
	for _, w := range want {
		if !strings.Contains(f, w) {
			d.t.Fatalf("the frame does not show %q:\n%s", w, f)
		}
	}
}

// hides fails if the frame holds any of these.
func (d *driver) hides(not ...string) {
	d.t.Helper()
	f := d.frame()
	for _, w := range not {
		if strings.Contains(f, w) {
			d.t.Fatalf("the frame shows %q:\n%s", w, f)
		}
	}
}

// line is the frame's line that mentions s, "" for none.
func (d *driver) line(s string) string {
	for _, l := range strings.Split(d.frame(), "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// testFleet is a fleet of four hosts like the lab's: a canary, two web
// hosts and a database, canary first.
func testFleet() *fleet.Fleet {
	n := func(name string, port int, tags ...string) *fleet.Node {
		return &fleet.Node{Name: name, Host: "10.0.0." + name[len(name)-1:], Tags: tags, Settings: fleet.Settings{Port: port}}
	}
	f := &fleet.Fleet{Path: "/srv/fleet/fleet.yaml", Dir: "/srv/fleet", Flake: "/srv/fleet/flake",
		Nodes: []*fleet.Node{n("canary1", 22, "canary"), n("web01", 2201, "web"), n("db01", 2202, "db"), n("web02", 2203, "web")}}
	f.Deploy = fleet.Deploy{Action: "switch", Parallel: 10, Canary: []string{"@canary"}, MaxFailures: 0,
		OnFailure: fleet.OnFailureHalt, MagicRollback: true}
	return f
}

// sys is a store path of host's system at a release.
func sys(host, release string) string {
	h := strings.Repeat(release[:1], 32)
	return "/nix/store/" + h + "-nixos-system-" + host + "-24.05." + release
}

// state is a host's state running generation gen of gens (1…gens), gen
// n being release "r<n>".
func state(host string, gen, gens int) fleet.Event {
	s := &nix.HostState{Hostname: host, ProfileGeneration: gen, Version: "24.05.r" + string(rune('0'+gen)),
		NixdeckLock: nix.Lock{Known: true}, SwitchLock: nix.Lock{Known: true}, Systemd: true}
	for i := 1; i <= gens; i++ {
		g := nix.Generation{Number: i, Path: sys(host, "r"+string(rune('0'+i))), Created: testNow.Add(-time.Duration(gens-i+1) * 24 * time.Hour)}
		if i == gen {
			g.Profile, g.Running, g.Booted = true, true, true
			s.Current, s.Booted, s.Profile = g.Path, g.Path, g.Path
		}
		s.Generations = append(s.Generations, g)
	}
	return fleet.StateEvent{EventBase: base("status", host), State: s}
}

// upToDate is the fake engine of a fleet whose hosts all run generation
// 2 of 2, with a build that differs on the web hosts only.
func upToDate(e *fakeEngine, c *Config) {
	for _, h := range []string{"canary1", "web01", "db01", "web02"} {
		e.states[h] = state(h, 2, 2)
		e.built[h] = sys(h, "r2")
	}
	e.built["web01"], e.built["web02"] = sys("web01", "r3"), sys("web02", "r3")
}
