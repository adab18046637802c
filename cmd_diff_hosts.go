package main

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
)

// runHosts builds the selected nodes' systems and diffs each host's
// running system against its new one (fleet's Diff). Every node gets a
// row: its diff, its own error (a node whose build failed, a host that
// could not be read), or "interrupted" when Ctrl-C stopped its work; the
// rows print even then.
func (c *diffCmd) runHosts(ctx context.Context, g *globals, w io.Writer) error {
	f, nodes, err := selectHosts(g, c.On, "diff", os.Stderr)
	if err != nil {
		return err
	}
	eng := fleet.Open(f, fleet.Options{Connector: c.conn})
	defer eng.Close()
	events := eng.Diff(ctx, nodes, fleet.DiffOptions{Files: c.Files, NoDB: c.NoDB})
	results, err := fleet.CollectDiffs(nodes, printLogs(events.All(), os.Stderr))
	if err != nil {
		return err // not about any one node: Nix missing, a broken fleet
	}
	return c.report(w, diffRows(results))
}

// printLogs passes events through and prints their log lines to w as they
// come (the build's output as Nix prints it, a host's prefixed with its
// name), made visible: they are Nix's and the hosts' text.
func printLogs(events iter.Seq[fleet.Event], w io.Writer) iter.Seq[fleet.Event] {
	return func(yield func(fleet.Event) bool) {
		for e := range events {
			if l, ok := e.(fleet.LogEvent); ok {
				if l.Host() != "" {
					fmt.Fprintf(w, "%s: ", termtext.Visible(l.Host()))
				}
				fmt.Fprintln(w, termtext.VisibleLines(l.Line))
			}
			if !yield(e) {
				return
			}
		}
	}
}
