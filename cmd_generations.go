package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// generationsCmd lists the system generations of the selected hosts.
type generationsCmd struct {
	On   string `required:"" placeholder:"SEL" help:"Hosts to list: names, @tags, globs, !exclusions, comma-separated."`
	JSON bool   `name:"json" help:"Print JSON instead of tables."`
}

// Run implements `nixdeck generations`.
func (c *generationsCmd) Run(ctx context.Context, g *globals) error {
	return c.run(ctx, g, os.Stdout, os.Stderr)
}

func (c *generationsCmd) run(ctx context.Context, g *globals, out, errOut io.Writer) error {
	sts, err := readStatuses(ctx, g, c.On, errOut)
	if err != nil {
		return err
	}
	if c.JSON {
		err = writeJSON(out, generationsJSON(sts))
	} else {
		err = writeGenerations(out, sts)
	}
	if err != nil {
		return err
	}
	return failedHosts(sts)
}

// writeGenerations prints a table per host, oldest generation first, with
// the marks: current (the profile, next boot), running, booted.
func writeGenerations(w io.Writer, sts []fleet.HostStatus) error {
	for i, s := range sts {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if s.Err != nil {
			fmt.Fprintf(w, "%s: %s\n", termtext.Visible(s.Node.Name), termtext.VisibleLines(hostOutcomeLines(s.Err)))
			continue
		}
		fmt.Fprintf(w, "%s\n", termtext.Visible(s.Node.Name))
		if len(s.State.Generations) == 0 {
			fmt.Fprintln(w, "  no system generations")
			continue
		}
		// The indent is part of the first cell: every row has it.
		rows := [][]string{{"  GEN", "CREATED", "SYSTEM", "MARKS"}}
		for _, g := range s.State.Generations {
			rows = append(rows, []string{"  " + strconv.Itoa(g.Number), g.Created.Local().Format("2006-01-02 15:04:05"), storeName(g.Path), g.Marks()})
		}
		if err := termtext.WriteTable(w, rows); err != nil {
			return err
		}
	}
	return nil
}

// hostGenerationsJSON is one host in `generations --json`.
type hostGenerationsJSON struct {
	Host        string           `json:"host"`
	Error       string           `json:"error,omitempty"`
	Interrupted bool             `json:"interrupted,omitempty"`
	Generations []nix.Generation `json:"generations"`
}

func generationsJSON(sts []fleet.HostStatus) []hostGenerationsJSON {
	out := make([]hostGenerationsJSON, len(sts))
	for i, s := range sts {
		out[i] = hostGenerationsJSON{Host: s.Node.Name, Generations: []nix.Generation{}}
		if s.Err != nil {
			out[i].Error, out[i].Interrupted = s.Err.Error(), errors.Is(s.Err, fleet.ErrInterrupted)
		} else if s.State.Generations != nil {
			out[i].Generations = s.State.Generations
		}
	}
	return out
}
