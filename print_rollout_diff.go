package main

import (
	"fmt"
	"strings"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// diffCounts is the one-line summary of a host's closure diff that deploy
// prints before asking: what changes in numbers, and whether it needs a
// reboot. With --json it is the "summary" of a "diff" event.
type diffCounts struct {
	Current string `json:"current"`
	New     string `json:"new"`
	// Unchanged: the host already runs the new system.
	Unchanged  bool     `json:"unchanged"`
	Upgrades   int      `json:"upgrades"`
	Downgrades int      `json:"downgrades"`
	Changed    int      `json:"changed"`
	Added      int      `json:"added"`
	Removed    int      `json:"removed"`
	SizeDelta  int64    `json:"size_delta"`
	RebootFor  []string `json:"reboot_for"`
}

func newDiffCounts(d *fleet.HostDiff) diffCounts {
	c := diffCounts{Current: d.Current, New: d.New, Unchanged: d.Current == d.New, RebootFor: d.RebootFor}
	if d.Diff == nil {
		return c
	}
	for _, v := range d.Diff.Versions {
		switch v.State {
		case "U":
			c.Upgrades++
		case "D":
			c.Downgrades++
		default:
			c.Changed++
		}
	}
	c.Changed += len(d.Diff.Selection)
	c.Added, c.Removed = len(d.Diff.Added), len(d.Diff.Removed)
	c.SizeDelta = d.Diff.NewSize - d.Diff.OldSize
	return c
}

// diffSummary is the line: "3 upgrades, 1 downgrade, 2 added, 1 removed,
// +12.3MiB, reboot needed (kernel)", or "unchanged".
func diffSummary(d *fleet.HostDiff) string {
	c := newDiffCounts(d)
	if c.Unchanged {
		return "unchanged: already runs " + termtext.Visible(storeName(c.New))
	}
	var parts []string
	for _, n := range []struct {
		count int
		what  string
	}{{c.Upgrades, "upgrade"}, {c.Downgrades, "downgrade"}, {c.Changed, "changed"}, {c.Added, "added"}, {c.Removed, "removed"}} {
		switch {
		case n.count == 0:
		case n.what == "upgrade" || n.what == "downgrade":
			parts = append(parts, plural(n.count, n.what))
		default:
			parts = append(parts, fmt.Sprintf("%d %s", n.count, n.what))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no package changes")
	}
	parts = append(parts, nix.FormatSizeDelta(c.SizeDelta))
	if len(c.RebootFor) > 0 {
		parts = append(parts, "reboot needed ("+termtext.Visible(strings.Join(c.RebootFor, ", "))+")")
	}
	return strings.Join(parts, ", ")
}
