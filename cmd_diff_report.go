package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
	"nixdeck/ui/styles"
)

// hostRow is one node's entry in the per-host diff: the diff, or why there
// is none. Interrupted marks a node whose work Ctrl-C stopped, apart from
// the ones that failed.
type hostRow struct {
	*fleet.HostDiff
	Interrupted bool `json:"interrupted,omitempty"`
}

// diffRows makes one row of each node's outcome: its diff, else its
// error (which names the node and the step), else "interrupted".
func diffRows(results []fleet.DiffResult) []hostRow {
	rows := make([]hostRow, len(results))
	for i, r := range results {
		switch {
		case r.Diff != nil:
			rows[i] = hostRow{HostDiff: r.Diff}
		case errors.Is(r.Err, fleet.ErrInterrupted):
			rows[i] = hostRow{HostDiff: &fleet.HostDiff{Host: r.Node.Name, New: r.New, Error: "interrupted"}, Interrupted: true}
		default:
			rows[i] = hostRow{HostDiff: &fleet.HostDiff{Host: r.Node.Name, New: r.New, Error: r.Err.Error()}}
		}
	}
	return rows
}

// report prints the host diffs in fleet order; any failed or interrupted
// host makes the command fail after everything was printed.
func (c *diffCmd) report(w io.Writer, rows []hostRow) error {
	var failed, stopped int
	for _, r := range rows {
		switch {
		case r.Interrupted:
			stopped++
		case r.Error != "":
			failed++
		}
	}
	if c.JSON {
		if err := writeJSON(w, rows); err != nil {
			return err
		}
	} else {
		st := styles.For(w)
		for i, r := range rows {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := renderHost(w, r, st); err != nil {
				return err
			}
		}
	}
	var msgs []string
	if failed > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %d hosts failed", failed, len(rows)))
	}
	if stopped > 0 {
		msgs = append(msgs, fmt.Sprintf("%d of %d hosts interrupted", stopped, len(rows)))
	}
	if len(msgs) > 0 {
		return errors.New("diff: " + strings.Join(msgs, ", "))
	}
	return nil
}

func renderHost(w io.Writer, r hostRow, m nix.DiffMarker) error {
	fmt.Fprintf(w, "=== %s ===\n", termtext.Visible(r.Host))
	switch {
	case r.Interrupted:
		_, err := fmt.Fprintln(w, "interrupted")
		return err
	case r.Error != "":
		_, err := fmt.Fprintf(w, "error: %s\n", termtext.VisibleLines(r.Error))
		return err
	}
	if err := r.Diff.Render(w, m); err != nil {
		return err
	}
	if r.RebootNeeded() {
		fmt.Fprintf(w, "Reboot needed: %s changed since boot.\n", strings.Join(r.RebootFor, ", "))
	}
	return renderFiles(w, r.Files, m)
}
