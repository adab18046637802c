package logview

import (
	"fmt"
	"testing"

	"nixdeck/ui/internal/uitest"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

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
func frames(st *styles.Styles, w, h int) map[string]string {
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
	out := map[string]string{}

	m := newM()
	out["follow"] = press(m, "]").View()

	m = press(newM(), "pgup", "right")
	m = press(m, "/")
	m = typeText(m, "clipboard")
	out["search"] = press(m, "enter", "N").View()

	j := NewBuffers(200)
	for i := range 30 {
		j.Append("db01", fmt.Sprintf("Dec 01 10:00:%02d db01 postgres[812]: checkpoint %d complete", i, i))
	}
	m = newM()
	m.Focus("db01")
	m.ShowJournal(j, "postgresql")
	out["journal"] = m.View()

	m = newM()
	m.Focus("new01")
	out["empty"] = m.View()
	return out
}

// The pane at 80x24 and 160x48, without colour and with: every line cut
// to the width, a host's escapes shown as text, the search's matches
// marked in the gutter, not by colour alone.
func TestGolden(t *testing.T) { uitest.GoldenFrames(t, frames, "search") }
