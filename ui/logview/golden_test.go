package logview

import (
	"fmt"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"nixdeck/ui/internal/uitest"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// sizes are the terminal sizes every frame is checked at: the smallest
// the console supports and a wide one.
var sizes = []struct{ w, h int }{{80, 24}, {160, 48}}

// deployLog is a host's activation output as a rollout logs it, with a
// hostile line and a long one among them.
func deployLog(b *Buffers, host string, n int) {
	for i := range n {
		switch i % 7 {
		case 3:
			b.Append(host, "\x1b]52;c;cGF3bmVk\x07 warning: the host tried to write the clipboard\x1b[2J")
		case 5:
			b.Append(host, fmt.Sprintf("restarting the following units: %s", longUnits))
		default:
			b.Append(host, fmt.Sprintf("activate: step %d of %s: setting up /etc...", i+1, host))
		}
	}
}

const longUnits = "nginx.service, postgresql.service, prometheus-node-exporter.service, systemd-journald.service, dbus.service, nscd.service, cron.service, logrotate.service"

// frames are the pane's states the golden files hold.
func frames(st *styles.Styles, w, h int) map[string]Model {
	b := NewBuffers(0)
	for _, host := range []string{"web01", "web02", "db01"} {
		deployLog(b, host, 120)
	}
	newM := func() Model {
		m := New(st, keys.Default(), b)
		m.SetHosts([]string{"web01", "web02", "db01"})
		m.SetSize(w, h)
		return m
	}
	out := map[string]Model{}

	m := newM()
	out["follow"] = press(m, "]")

	m = press(newM(), "pgup", "right")
	m = press(m, "/")
	m = typeText(m, "clipboard")
	out["search"] = press(m, "enter", "N")

	j := NewBuffers(200)
	for i := range 30 {
		j.Append("db01", fmt.Sprintf("Dec 01 10:00:%02d db01 postgres[812]: checkpoint %d complete", i, i))
	}
	m = newM()
	m.Focus("db01")
	m.ShowJournal(j, "postgresql")
	out["journal"] = m

	m = newM()
	m.Focus("new01")
	out["empty"] = m
	return out
}

// The pane at 80x24 and 160x48, without colour: exactly the size given,
// every line cut to the width, a host's escapes shown as text.
func TestGolden(t *testing.T) {
	for _, sz := range sizes {
		for name, m := range frames(styles.New(colorprofile.NoTTY), sz.w, sz.h) {
			t.Run(fmt.Sprintf("%s-%dx%d", name, sz.w, sz.h), func(t *testing.T) {
				v := m.View()
				uitest.Size(t, v, sz.w, sz.h)
				uitest.Golden(t, fmt.Sprintf("%s-%dx%d", name, sz.w, sz.h), v)
			})
		}
	}
}

// With colour, the frame says exactly what it says without: the colours
// add no word and no mark, so nothing depends on them alone.
func TestColourAddsNoMeaning(t *testing.T) {
	plain := frames(styles.New(colorprofile.NoTTY), 80, 24)
	for name, m := range frames(styles.New(colorprofile.ANSI), 80, 24) {
		v := m.View()
		if name == "search" {
			uitest.Golden(t, "search-80x24-colour", v)
		}
		if got, want := ansi.Strip(v), plain[name].View(); got != want {
			t.Errorf("%s: without its colours the frame reads\n%s\nwant\n%s", name, got, want)
		}
	}
}
