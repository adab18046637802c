package logview

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"nixdeck/ui/internal/uitest"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// fill appends n numbered lines to each host's buffer.
func fill(b *Buffers, n int, hosts ...string) {
	for _, h := range hosts {
		for i := range n {
			b.Append(h, fmt.Sprintf("%s line %d", h, i+1))
		}
	}
}

// newModel is a plain (colourless) 40x10 pane over hosts with n lines
// each: 8 lines of log under the header.
func newModel(n int, hosts ...string) (Model, *Buffers) {
	b := NewBuffers(0)
	fill(b, n, hosts...)
	m := New(styles.New(colorprofile.NoTTY), keys.Default(), b)
	m.SetHosts(hosts)
	m.SetSize(40, 10)
	return m, b
}

func press(m Model, names ...string) Model {
	for _, n := range names {
		m, _ = m.Update(uitest.Key(n))
	}
	return m
}

func typeText(m Model, s string) Model {
	for _, k := range uitest.Type(s) {
		m, _ = m.Update(k)
	}
	return m
}

// shown is the pane's lines without the header and padding.
func shown(m Model) []string {
	rows := strings.Split(m.View(), "\n")[1:]
	for i := range rows {
		rows[i] = strings.TrimRight(rows[i], " ")
	}
	return rows
}

func wantWindow(t *testing.T, m Model, top, end int64, follow bool) {
	t.Helper()
	gotTop, gotEnd := m.window()
	if gotTop != top || gotEnd != end || m.Following() != follow {
		t.Errorf("window [%d,%d) following %v, want [%d,%d) following %v", gotTop, gotEnd, m.Following(), top, end, follow)
	}
}

// A host's log follows new lines until the view is moved up, and
// follows again once it is moved back to the newest line.
func TestFollowAndScroll(t *testing.T) {
	m, b := newModel(100, "web01")
	wantWindow(t, m, 91, 100, true)
	if got := shown(m); got[0] != "web01 line 92" || got[8] != "web01 line 100" {
		t.Errorf("following shows %q", got)
	}
	b.Append("web01", "new")
	wantWindow(t, m, 92, 101, true)

	m = press(m, "k")
	wantWindow(t, m, 91, 100, false)
	b.Append("web01", "newer") // a paused view stays on its lines
	wantWindow(t, m, 91, 100, false)
	m = press(m, "pgup")
	wantWindow(t, m, 82, 91, false)
	m = press(m, "pgdown", "j")
	wantWindow(t, m, 92, 101, false)
	m = press(m, "down")
	wantWindow(t, m, 93, 102, true)

	m = press(m, "home")
	wantWindow(t, m, 0, 9, false)
	m = press(m, "up") // nothing above the first line
	wantWindow(t, m, 0, 9, false)
	m = press(m, "end")
	wantWindow(t, m, 93, 102, true)

	m = press(m, "f")
	wantWindow(t, m, 93, 102, false)
	b.Append("web01", "newest")
	wantWindow(t, m, 93, 102, false)
	m = press(m, "f")
	wantWindow(t, m, 94, 103, true)
}

// Lines pushed out of the ring take a paused view with them to the
// oldest line kept, and the header says where the older ones are.
func TestPausedViewLosesDroppedLines(t *testing.T) {
	b := NewBuffers(20)
	fill(b, 20, "h")
	m := New(styles.New(colorprofile.NoTTY), keys.Default(), b)
	m.SetHosts([]string{"h"})
	m.SetSize(80, 5)
	m = press(m, "home")
	wantWindow(t, m, 0, 4, false)
	fill(b, 5, "h")
	wantWindow(t, m, 5, 9, false)
	if h := strings.Split(m.View(), "\n")[0]; !strings.Contains(h, "h · log · lines 6-9 of 25 · paused (f) · 5 older lines on disk") {
		t.Errorf("header %q", h)
	}
}

// A log shorter than the pane stays at its top, following, whatever the
// keys.
func TestShortLog(t *testing.T) {
	m, _ := newModel(3, "h")
	for _, k := range []string{"k", "pgup", "j", "pgdown", "end"} {
		m = press(m, k)
		wantWindow(t, m, 0, 3, true)
	}
	m = press(m, "home")
	wantWindow(t, m, 0, 3, false)
	if got := shown(m); got[2] != "h line 3" || got[3] != "" {
		t.Errorf("short log shows %q", got)
	}
}

// ← and → scroll long lines sideways; an ellipsis says a line goes on.
func TestSideways(t *testing.T) {
	m, b := newModel(0, "h")
	b.Append("h", strings.Repeat("0123456789", 6))
	if got := shown(m)[0]; got != "0123456789012345678901234567890123456789"[:39]+"…" {
		t.Errorf("long line shows %q", got)
	}
	m = press(m, "right", "right")
	if got := shown(m)[0]; got != "678901234567890123456789012345678901234…" {
		t.Errorf("after → →: %q", got)
	}
	m = press(m, "left", "left", "left")
	if m.xoff != 0 {
		t.Errorf("← past the start: offset %d", m.xoff)
	}
}

// [ and ] go round the hosts; each host keeps its place; a host that
// leaves the list takes the focus to the first.
func TestHosts(t *testing.T) {
	m, _ := newModel(50, "a", "b", "c")
	if m.Focused() != "a" {
		t.Fatalf("focus %q", m.Focused())
	}
	m = press(m, "k") // a paused
	m = press(m, "]")
	if m.Focused() != "b" || !m.Following() {
		t.Errorf("] → %q following %v", m.Focused(), m.Following())
	}
	m = press(m, "[", "[")
	if m.Focused() != "c" {
		t.Errorf("[ [ from b → %q, want c", m.Focused())
	}
	m = press(m, "]")
	if m.Focused() != "a" || m.Following() {
		t.Errorf("] from c → %q following %v, want a, paused where it was", m.Focused(), m.Following())
	}
	m.Focus("z") // a host with no lines yet joins the list
	if m.Focused() != "z" || !strings.Contains(shown(m)[0], "no lines from z yet") {
		t.Errorf("Focus(z): %q, %q", m.Focused(), shown(m)[0])
	}
	m.SetHosts([]string{"b", "c"})
	if m.Focused() != "b" {
		t.Errorf("after SetHosts without z, focus %q", m.Focused())
	}
	m.SetHosts([]string{"c", "b"})
	if m.Focused() != "b" {
		t.Errorf("SetHosts moved the focus off a listed host to %q", m.Focused())
	}
	m.SetHosts(nil)
	m = press(m, "]", "[")
	if m.Focused() != "" || !strings.Contains(m.View(), "log: no host") {
		t.Errorf("no hosts: focus %q, view %q", m.Focused(), m.View())
	}
}

// / opens the search, which takes every key (q too) until enter; enter
// finds the newest match at or above the view's last line; n and N go to
// newer and older matches and round the ends; esc clears.
func TestSearch(t *testing.T) {
	m, b := newModel(0, "h")
	for i := range 100 {
		line := fmt.Sprintf("line %d", i)
		if i%20 == 5 {
			line += " ERROR quit"
		}
		b.Append("h", line)
	}
	m = press(m, "/")
	if !m.Typing() {
		t.Fatal("/ did not open the search")
	}
	m = typeText(m, "error q")
	if m.Query() != "" || !m.Typing() {
		t.Fatalf("typing: query %q typing %v", m.Query(), m.Typing())
	}
	if rows := strings.Split(m.View(), "\n"); !strings.HasPrefix(rows[len(rows)-1], "/error q") {
		t.Errorf("input line %q", rows[len(rows)-1])
	}
	m = press(m, "enter")
	if m.Typing() || m.Query() != "error q" || m.match != 85 || m.Following() {
		t.Fatalf("after enter: typing %v query %q match %d following %v", m.Typing(), m.Query(), m.match, m.Following())
	}
	if !strings.Contains(m.View(), "match 5 of 5, line 86") {
		t.Errorf("status: %q", m.View())
	}
	rows := shown(m)
	var marks []string
	for _, r := range rows {
		if strings.HasPrefix(r, markCurrent) || strings.HasPrefix(r, markMatch) {
			marks = append(marks, r)
		}
	}
	if len(marks) != 1 || marks[0] != "▶ line 85 ERROR quit" {
		t.Errorf("marked rows %q", marks)
	}
	m = press(m, "N")
	if m.match != 65 {
		t.Errorf("N → line %d, want 65", m.match)
	}
	m = press(m, "n", "n")
	if m.match != 5 || !strings.Contains(m.notice, "from the oldest line: match 1 of 5") {
		t.Errorf("n past the newest → line %d, %q", m.match, m.notice)
	}
	m = press(m, "N")
	if m.match != 85 || !strings.Contains(m.notice, "from the newest line") {
		t.Errorf("N past the oldest → line %d, %q", m.match, m.notice)
	}
	// A capital letter makes the search exact.
	m = press(m, "/", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace")
	m = typeText(m, "Error")
	m = press(m, "enter")
	if m.match != -1 || m.notice != `no line matches "Error"` {
		t.Errorf("Error: match %d, %q", m.match, m.notice)
	}
	// esc while typing keeps the search there was.
	m = press(m, "/", "x", "esc")
	if m.Typing() || m.Query() != "Error" {
		t.Errorf("esc while typing: typing %v query %q", m.Typing(), m.Query())
	}
	m = press(m, "esc")
	if m.Query() != "" || strings.Contains(m.View(), "search") {
		t.Errorf("esc did not clear the search: %q", m.Query())
	}
	// Without a search n and N do nothing, and esc is the parent's.
	before := m
	m = press(m, "n", "N", "esc")
	if m.match != before.match || m.Following() != before.Following() {
		t.Error("n, N or esc acted without a search")
	}
	// An empty search is no search.
	m = press(m, "/", "enter")
	if m.Query() != "" || m.Typing() {
		t.Errorf("empty search: %q %v", m.Query(), m.Typing())
	}
}

// A search of a host with no lines says so; the search stays when the
// focus moves, and n looks for it in the next host.
func TestSearchAcrossHosts(t *testing.T) {
	m, b := newModel(0, "a", "b")
	m = press(m, "/")
	m = typeText(m, "boom")
	m = press(m, "enter")
	if m.notice != `no lines to search for "boom"` {
		t.Errorf("notice %q", m.notice)
	}
	b.Append("b", "boom")
	b.Append("b", "calm")
	m = press(m, "]", "n")
	if m.Focused() != "b" || m.match != 0 || m.notice != "match 1 of 1, line 1" {
		t.Errorf("n on b: focus %q match %d %q", m.Focused(), m.match, m.notice)
	}
}

// The journal tail is shown from its own buffers, labelled with its unit,
// following; the logs come back with ShowLogs.
func TestJournal(t *testing.T) {
	m, _ := newModel(30, "web01")
	m = press(m, "k")
	j := NewBuffers(200)
	j.Append("web01", "Started nginx.service.")
	m.ShowJournal(j, "nginx")
	if shown, unit := m.Journal(); !shown || unit != "nginx" || !m.Following() {
		t.Errorf("Journal() = %v %q, following %v", shown, unit, m.Following())
	}
	v := m.View()
	if !strings.Contains(v, "web01 · journal -u nginx") || !strings.Contains(v, "Started nginx.service.") {
		t.Errorf("journal view:\n%s", v)
	}
	m.ShowJournal(j, "")
	if !strings.Contains(m.View(), "web01 · journal · following") {
		t.Errorf("whole journal view:\n%s", m.View())
	}
	m.ShowLogs()
	if shown, _ := m.Journal(); shown || !strings.Contains(m.View(), "web01 · log · following") {
		t.Errorf("back to the log:\n%s", m.View())
	}
}

// Messages that are not keys change nothing, unless the search input
// has the keyboard (it takes them all: a paste, a blink).
func TestOtherMessages(t *testing.T) {
	m, _ := newModel(30, "h")
	m2, cmd := m.Update(tea.WindowSizeMsg{Width: 1, Height: 1})
	if cmd != nil || m2.width != 40 {
		t.Error("a window size message was taken by the pane (the parent calls SetSize)")
	}
	m = press(m, "/")
	m, _ = m.Update(tea.PasteMsg{Content: "pasted"})
	if m.input.Value() != "pasted" {
		t.Errorf("paste into the search: %q", m.input.Value())
	}
}
