package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
	"nixdeck/ui/styles"
)

// diffCmd is `nixdeck diff`: an nvd-compatible closure diff, either of two
// local store paths (a drop-in for `nvd diff`) or per host, of each
// selected host's running system against its newly built one.
type diffCmd struct {
	// Pointers: an empty argument ('') is a mistake to report, not the
	// per-host form that no arguments select.
	Old *string `arg:"" optional:"" help:"Old system: a store path or a link to one (e.g. /run/current-system)."`
	New *string `arg:"" optional:"" help:"New system: a store path or a link to one (e.g. ./result)."`

	On    string `placeholder:"SEL" help:"Per host: the hosts to diff (names, @tags, globs, !exclusions; default all)."`
	Files bool   `help:"Also show unified diffs of the text files under etc/ that differ."`
	JSON  bool   `name:"json" help:"Print the diff as JSON instead of text."`
	NoDB  bool   `name:"no-db" help:"Read local closures with nix-store instead of the Nix database."`

	// conn reaches the hosts; nil means SSH through a fresh remote.Pool
	// (tests put a counting connector here).
	conn fleet.Connector
}

// Run picks the local or the per-host form from the arguments.
func (c *diffCmd) Run(ctx context.Context, g *globals) error {
	switch {
	case c.Old != nil && *c.Old == "", c.New != nil && *c.New == "":
		return exitCode(2, errors.New("diff: OLD and NEW must not be empty"))
	case c.Old != nil && c.New == nil:
		return exitCode(2, errors.New("diff: give both OLD and NEW, or neither for the per-host diff"))
	case c.Old != nil && c.On != "":
		return exitCode(2, errors.New("diff: --on selects hosts; it does not go with OLD NEW"))
	case c.Old != nil:
		return c.runLocal(ctx, *c.Old, *c.New, os.Stdout)
	}
	return c.runHosts(ctx, g, os.Stdout)
}

// runLocal diffs two local closures, like `nvd diff OLD NEW`.
func (c *diffCmd) runLocal(ctx context.Context, oldPath, newPath string, w io.Writer) error {
	// Both sides are read at once: the database queries use both cores,
	// and the nix-store fallback walks the two closures in one process.
	lc := &nix.LocalClosures{NoDB: c.NoDB}
	defer lc.Close()
	cs, err := lc.QueryAll(ctx, oldPath, newPath)
	if err != nil {
		return err
	}
	old, new := cs[0], cs[1]
	d := nix.DiffClosures(oldPath, newPath, old, new)
	var files []nix.FileDiff
	if c.Files {
		if files, err = nix.DiffEtc(ctx, nix.LocalTree(old.Root), nix.LocalTree(new.Root)); err != nil {
			return err
		}
	}
	if c.JSON {
		return writeJSON(w, localDiffJSON(d, files))
	}
	st := styles.For(w)
	if err := d.Render(w, st); err != nil {
		return err
	}
	return renderFiles(w, files, st)
}

// localDiffJSON is what `diff --json OLD NEW` prints: the diff object
// with the etc/ diffs (--files) beside its own keys.
func localDiffJSON(d *nix.ClosureDiff, files []nix.FileDiff) any {
	return struct {
		*nix.ClosureDiff
		Files []nix.FileDiff `json:"files,omitempty"`
	}{d, files}
}

// renderFiles prints the etc/ diffs after a package diff.
func renderFiles(w io.Writer, files []nix.FileDiff, m nix.DiffMarker) error {
	var b strings.Builder
	for _, f := range files {
		b.WriteString(f.Render(m))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeJSON prints v as indented JSON. Host text keeps its exact value;
// what encoding/json would leave raw for a terminal to obey (C1 controls,
// bidi overrides) is written as \u escapes.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	_, err = w.Write(append(termtext.JSON(b), '\n'))
	return err
}
