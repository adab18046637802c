package diffview

import (
	"fmt"
	"strings"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/ui/internal/cells"
	"nixdeck/ui/styles"
)

// content renders one host's diff as the lines the pane scrolls through:
// the package diff as `nixdeck diff` prints it (nvd's layout, coloured
// by meaning through styles), the reboot note, and the changed files
// under /etc with their line diffs. Every piece of host text passes
// through termtext on its way (nix's renderers do it for theirs); tabs
// are expanded, as a terminal cell holds no tab.
func content(d *fleet.HostDiff, st *styles.Styles) []string {
	host := termtext.Visible(d.Host)
	var b strings.Builder
	switch {
	case d.Error != "":
		fmt.Fprintf(&b, "%s cannot be diffed:\n%s\n", host, termtext.VisibleLines(d.Error))
	case d.Diff == nil:
		fmt.Fprintf(&b, "computing the diff of %s…\n", host)
	case d.Current == d.New:
		fmt.Fprintf(&b, "%s already runs %s: nothing changes.\n", host, termtext.Visible(d.New))
	default:
		// Render cannot fail on a strings.Builder.
		_ = d.Diff.Render(&b, st)
		b.WriteString(rebootNote(d) + "\n")
		files(&b, d, st)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = cells.ExpandTabs(l)
	}
	return lines
}

// rebootNote says whether the new system needs a reboot, and for what.
func rebootNote(d *fleet.HostDiff) string {
	if !d.RebootNeeded() {
		return "No reboot needed: the host booted the kernel and initrd the new system boots."
	}
	return "Reboot needed: " + termtext.Visible(strings.Join(d.RebootFor, ", ")) + " changed since boot."
}

// files writes the changed files under /etc, or why there are none.
func files(b *strings.Builder, d *fleet.HostDiff, st *styles.Styles) {
	switch {
	case d.Files == nil:
		b.WriteString("Files under /etc were not compared.\n")
	case len(d.Files) == 0:
		b.WriteString("No file under /etc changed.\n")
	default:
		fmt.Fprintf(b, "\nChanged files under /etc: %d\n", len(d.Files))
		for _, f := range d.Files {
			b.WriteString(f.Render(st))
		}
	}
}
