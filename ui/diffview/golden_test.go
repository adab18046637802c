package diffview

import (
	"testing"

	"nixdeck/fleet"
	"nixdeck/ui/internal/uitest"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// frames are the pane's states the golden files hold.
func frames(st *styles.Styles, w, h int) map[string]string {
	newM := func(diffs ...*fleet.HostDiff) Model {
		m := New(st, keys.Default())
		m.SetSize(w, h)
		m.SetDiff(diffs...)
		return m
	}
	failed := &fleet.HostDiff{Host: "db01", Error: "db01: connect: dial tcp 10.0.0.7:22: connect: connection refused"}
	return map[string]string{
		"top":     newM(hostDiff("web01"), hostDiff("web02"), failed).View(),
		"files":   press(newM(hostDiff("web01")), "end").View(),
		"pending": press(newM(hostDiff("web01"), &fleet.HostDiff{Host: "web02"}), "tab").View(),
		"error":   press(newM(hostDiff("web01"), failed), "tab").View(),
	}
}

// The pane at 80x24 and 160x48, without colour and with: the state
// letters, + and - and the words carry the meaning, not the colours.
func TestGolden(t *testing.T) { uitest.GoldenFrames(t, frames, "top") }
