package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"nixdeck/internal/termtext"
	"nixdeck/nix"
	"nixdeck/ui/styles"
)

// hostRow is one node's entry in the per-host diff: the diff, or why there
// is none. Interrupted marks a node whose work Ctrl-C stopped, apart from
// the ones that failed.
type hostRow struct {
	*nix.HostDiff
	Interrupted bool `json:"interrupted,omitempty"`
}

// errorRow is the row of a node that has no diff because of err;
// interrupted says the operation's cancellation ended its work.
func errorRow(host, newPath string, err error, interrupted bool) hostRow {
	if interrupted {
		return hostRow{HostDiff: &nix.HostDiff{Host: host, New: newPath, Error: "interrupted"}, Interrupted: true}
	}
	return hostRow{HostDiff: &nix.HostDiff{Host: host, New: newPath, Error: err.Error()}}
}

// buildFailedRow is the row of a node left without a system: its own
// build error, named by its step ("web1: build: …"), else the build's.
func buildFailedRow(host string, own *nix.BuildError, buildErr error) hostRow {
	switch {
	case own != nil:
		return errorRow(host, "", fmt.Errorf("%s: %s: %s", host, own.Phase, own.Cause()), errors.Is(own, context.Canceled))
	case buildErr != nil:
		return errorRow(host, "", fmt.Errorf("%s: build: %w", host, buildErr), errors.Is(buildErr, context.Canceled))
	}
	return errorRow(host, "", fmt.Errorf("%s: build: no system came out of it", host), false)
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
