package diffview

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"nixdeck/fleet"
	"nixdeck/nix"
	"nixdeck/ui/internal/uitest"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// hostDiff is a diff as `nixdeck diff --files` gets it for a host moving
// to a new release: versions up and down, a package added and one
// removed, a new kernel, and three changed files, one of them with a
// host's escape sequence and a tab in it.
func hostDiff(host string) *fleet.HostDiff {
	cd := &nix.ClosureDiff{
		Old: host + ":/run/current-system", New: "/nix/store/c3k9a8w9v2x6f5q1z7m4n0b8j2h6g4d1-nixos-system-" + host + "-24.11",
		Versions: []nix.PackageChange{
			{Name: "nginx", State: "U", Selection: "*", Old: []string{"1.24.0"}, New: []string{"1.26.2"}},
			{Name: "openssl", State: "U", Selection: ".", Old: []string{"3.0.13"}, New: []string{"3.0.15"}},
			{Name: "linux", State: "U", Selection: ".", Old: []string{"6.6.41"}, New: []string{"6.6.63"}},
			{Name: "python3", State: "D", Selection: ".", Old: []string{"3.12.4"}, New: []string{"3.11.9"}},
		},
		Selection: []nix.PackageChange{},
		Added:     []nix.PackageChange{{Name: "htop", State: "A", Selection: "+", New: []string{"3.3.0"}}},
		Removed:   []nix.PackageChange{{Name: "telnet\x1b[2J", State: "R", Selection: "-", Old: []string{"2.1"}}},
		OldPaths:  812, NewPaths: 815, PathsAdded: 96, PathsRemoved: 93, OldSize: 1_288_490_188, NewSize: 1_301_073_100,
	}
	conf := "worker_processes 2;\nevents {\n\tworker_connections 1024;\n}\nhttp {\n\tserver_tokens off;\n}\n"
	newConf := strings.Replace(conf, "2;", "4;", 1) + "# \x1b]0;owned\x07\n"
	return &fleet.HostDiff{
		Host: host, Current: "/nix/store/a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6-nixos-system-" + host + "-24.05", New: cd.New,
		Diff: cd, RebootFor: []string{"kernel", "initrd"}, KernelChanged: true, InitrdChanged: true,
		Files: []nix.FileDiff{
			{Path: "etc/nginx/nginx.conf", Status: "modified", OldType: nix.KindFile, NewType: nix.KindFile,
				OldSize: int64(len(conf)), NewSize: int64(len(newConf)), Unified: nix.UnifiedDiff(conf, newConf, 3)},
			{Path: "etc/motd", Status: "added", NewType: nix.KindFile, OldSize: -1, NewSize: 6, Unified: nix.UnifiedDiff("", "hello\n", 3)},
			{Path: "etc/localtime", Status: "modified", OldType: nix.KindLink, NewType: nix.KindLink, OldLink: "/etc/zoneinfo/UTC", NewLink: "/etc/zoneinfo/Europe/Berlin"},
		},
	}
}

func newModel(w, h int, diffs ...*fleet.HostDiff) Model {
	m := New(styles.New(colorprofile.NoTTY), keys.Default())
	m.SetSize(w, h)
	m.SetDiff(diffs...)
	return m
}

func press(m Model, names ...string) Model {
	for _, n := range names {
		m, _ = m.Update(uitest.Key(n))
	}
	return m
}

func header(m Model) string { return strings.TrimRight(strings.Split(m.View(), "\n")[0], " ") }

func rows(m Model) []string {
	out := strings.Split(m.View(), "\n")[1:]
	for i := range out {
		out[i] = strings.TrimRight(out[i], " ")
	}
	return out
}

// The diff reads as `nixdeck diff --files` prints it, host text made
// visible and tabs expanded.
func TestContent(t *testing.T) {
	lines := content(hostDiff("web01"), styles.New(colorprofile.NoTTY))
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"<<< web01:/run/current-system",
		"[U*]  #1  nginx    1.24.0 -> 1.26.2",
		"[D.]  #4  python3  3.12.4 -> 3.11.9",
		"[A+]  #1  htop  3.3.0",
		`[R-]  #1  telnet\x1b[2J  2.1`,
		"Closure size: 812 -> 815 (96 paths added, 93 paths removed, delta +3, disk usage +12.0MiB).",
		"Reboot needed: kernel, initrd changed since boot.",
		"Changed files under /etc: 3",
		"-worker_processes 2;",
		"+worker_processes 4;",
		"        worker_connections 1024;",
		`+# \x1b]0;owned\x07`,
		"etc/localtime: modified, link to /etc/zoneinfo/UTC -> link to /etc/zoneinfo/Europe/Berlin",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diff lacks %q:\n%s", want, text)
		}
	}
	if strings.ContainsAny(text, "\t\x1b") {
		t.Errorf("diff holds a tab or a raw escape:\n%q", text)
	}
}

// A host still being diffed, one that could not be, one already on the
// new system, one without the /etc comparison: each says so.
func TestContentStates(t *testing.T) {
	st := styles.New(colorprofile.NoTTY)
	same := hostDiff("c")
	same.New = same.Current
	noFiles := hostDiff("d")
	noFiles.Files, noFiles.RebootFor = nil, nil
	none := hostDiff("e")
	none.Files = []nix.FileDiff{}
	tests := []struct {
		d    *fleet.HostDiff
		want string
	}{
		{&fleet.HostDiff{Host: "a"}, "computing the diff of a…"},
		{&fleet.HostDiff{Host: "b", Error: "b: read state: connection refused\n\x1b[31mdetail"}, "b cannot be diffed:\nb: read state: connection refused\n\\x1b[31mdetail"},
		{same, "c already runs " + same.Current + ": nothing changes."},
		{noFiles, "No reboot needed: the host booted the kernel and initrd the new system boots.\nFiles under /etc were not compared."},
		{none, "No file under /etc changed."},
	}
	for _, tt := range tests {
		if got := strings.Join(content(tt.d, st), "\n"); !strings.Contains(got, tt.want) {
			t.Errorf("%s: got\n%s\nwant it to hold\n%s", tt.d.Host, got, tt.want)
		}
	}
}

// ↑ ↓ pgup pgdn home end scroll, ← → go sideways; the header says where.
func TestScroll(t *testing.T) {
	m := newModel(80, 11, hostDiff("web01"))
	total := len(content(hostDiff("web01"), m.st))
	if h := header(m); h != fmt.Sprintf("web01 · diff · reboot needed · lines 1-10 of %d · wide lines (→)", total) {
		t.Errorf("header %q", h)
	}
	m = press(m, "j", "down")
	if r := rows(m); r[0] != "Version changes:" {
		t.Errorf("after 2 down: %q", r[0])
	}
	m = press(m, "k")
	if r := rows(m); !strings.HasPrefix(r[0], ">>> ") {
		t.Errorf("after up: %q", r[0])
	}
	m = press(m, "pgdown")
	if h := header(m); !strings.Contains(h, fmt.Sprintf("lines 12-21 of %d", total)) {
		t.Errorf("after pgdown: %q", h)
	}
	m = press(m, "pgup")
	if h := header(m); !strings.Contains(h, fmt.Sprintf("lines 2-11 of %d", total)) {
		t.Errorf("after pgup: %q", h)
	}
	m = press(m, "end")
	if h := header(m); !strings.Contains(h, fmt.Sprintf("lines %d-%d of %d", total-9, total, total)) {
		t.Errorf("after end: %q", h)
	}
	m = press(m, "home", "right")
	if h := header(m); !strings.Contains(h, "lines 1-10") || !strings.Contains(h, "from column") {
		t.Errorf("after home →: %q", h)
	}
	if r := rows(m); strings.HasPrefix(r[0], "<<<") {
		t.Errorf("→ did not scroll sideways: %q", r[0])
	}
	m = press(m, "left")
	if r := rows(m); !strings.HasPrefix(r[0], "<<< web01") {
		t.Errorf("← did not come back: %q", r[0])
	}
	// Keys the pane does not use, and other messages, change nothing.
	before := m.View()
	m = press(m, "b", "d", "f", "space", "q")
	if m2, cmd := m.Update(tea.WindowSizeMsg{Width: 10, Height: 3}); m2.View() != before || cmd != nil || m.View() != before {
		t.Error("a key or message the pane does not use moved it")
	}
}

// tab goes through the hosts, each kept where it was left; with one
// host it does nothing. Put fills in a diff computed later.
func TestHostsAndPut(t *testing.T) {
	m := newModel(80, 12, hostDiff("web01"), &fleet.HostDiff{Host: "web02"}, hostDiff("db01"))
	if m.Focused() != "web01" || strings.Join(m.Hosts(), ",") != "web01,web02,db01" {
		t.Fatalf("focus %q hosts %q", m.Focused(), m.Hosts())
	}
	m = press(m, "pgdown", "tab")
	if m.Focused() != "web02" || rows(m)[0] != "computing the diff of web02…" || header(m) != "web02 · diff · host 2/3 (tab)" {
		t.Errorf("tab → %q %q %q", m.Focused(), header(m), rows(m)[0])
	}
	m.Put(hostDiff("web02"))
	if !strings.HasPrefix(rows(m)[0], "<<< web02") {
		t.Errorf("Put did not show web02's diff: %q", rows(m)[0])
	}
	m = press(m, "tab", "tab")
	if m.Focused() != "web01" || !strings.Contains(header(m), "lines 12-22") {
		t.Errorf("back on web01: %q", header(m))
	}
	m.Put(&fleet.HostDiff{Host: "new01", Error: "unreachable"})
	if m.Focused() != "web01" || len(m.Hosts()) != 4 {
		t.Errorf("Put of a new host moved the focus to %q, hosts %q", m.Focused(), m.Hosts())
	}
	m.Focus("new01")
	if !strings.Contains(strings.Join(rows(m), "\n"), "new01 cannot be diffed:\nunreachable") {
		t.Errorf("Focus(new01): %q", rows(m))
	}
	m.Focus("nowhere")
	if m.Focused() != "new01" {
		t.Errorf("Focus of an unknown host moved to %q", m.Focused())
	}
	m.SetDiff(hostDiff("db01"), hostDiff("web01"))
	if m.Focused() != "db01" {
		t.Errorf("SetDiff without new01: focus %q, want the first", m.Focused())
	}
	m.SetDiff(hostDiff("x"))
	m = press(m, "tab")
	if m.Focused() != "x" {
		t.Errorf("tab with one host moved to %q", m.Focused())
	}
	m.SetDiff()
	if m.Focused() != "" || header(m) != "diff: no host" {
		t.Errorf("no diffs: %q %q", m.Focused(), header(m))
	}
	// Only a header fits in one line; nothing in none.
	m.SetSize(80, 1)
	if v := m.View(); v != "diff: no host"+strings.Repeat(" ", 67) {
		t.Errorf("one line: %q", v)
	}
	m.SetSize(80, 0)
	if v := m.View(); v != "" {
		t.Errorf("no room: %q", v)
	}
}
