package nix

import (
	"context"
	"fmt"
	"strings"
)

// cliClosures is the local fallback when the Nix database can't be read.
// One `nix-store --serve` walks the closures of all roots together,
// breadth first: each round asks for the references and NAR sizes of the
// paths the round before found (servedGraph numbers them as they come).
// Each path is read once, however many closures share it: asking for the
// closure first would read every path twice, and a process per closure
// (side by side on two cores) reads the shared ones twice and costs a Nix
// start more, which a loaded machine pays in full.
func cliClosures(ctx context.Context, r Runner, roots []cliRoot) ([]*Closure, error) {
	g := newServedGraph(4096)
	for _, x := range roots {
		g.name(x.root)
		if x.sw != "" {
			g.name(x.sw)
		}
	}
	var cs []*Closure
	err := converse(ctx, r, Cmd{Argv: localServeArgv}, MaxClosureOutput, func(c *serveConn) error {
		c.hello()
		for from := 0; from < len(g.paths); {
			below := len(g.paths)
			if err := c.queryInfos(g, from, below); err != nil {
				return err
			}
			from = below
		}
		// nix-store ends while the closures are put together.
		c.hangUp()
		var err error
		cs, err = g.closures(roots)
		return err
	})
	if err != nil {
		tops := make([]string, len(roots))
		for i, x := range roots {
			tops[i] = x.root
		}
		return nil, fmt.Errorf("query closure of %s: %w", strings.Join(tops, ", "), err)
	}
	return cs, nil
}
