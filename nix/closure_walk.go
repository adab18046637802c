package nix

import (
	"context"
	"fmt"
	"maps"
	"strings"
)

// cliClosures is the local fallback when the Nix database can't be read.
// One `nix-store --serve` walks the closures of all roots together,
// breadth first: each round asks for the references and NAR sizes of the
// paths the round before found. Each path is read once, however many
// closures share it: asking for the closure first would read every path
// twice, and a process per closure (side by side on two cores) reads the
// shared ones twice and costs a Nix start more, which a loaded machine
// pays in full.
func cliClosures(ctx context.Context, r Runner, roots []cliRoot) ([]*Closure, error) {
	var front []string
	seen := map[string]bool{}
	for _, x := range roots {
		for _, p := range []string{x.root, x.sw} {
			if p != "" && !seen[p] {
				seen[p] = true
				front = append(front, p)
			}
		}
	}
	infos := map[string]servedInfo{}
	var cs []*Closure
	err := converse(ctx, r, Cmd{Argv: localServeArgv}, MaxClosureOutput, func(c *serveConn) error {
		c.hello()
		for len(front) > 0 {
			got, err := c.queryInfos(front)
			if err != nil {
				return err
			}
			var next []string
			for _, p := range front {
				for _, ref := range got[p].refs {
					if !seen[ref] {
						seen[ref] = true
						next = append(next, ref)
					}
				}
			}
			maps.Copy(infos, got)
			front = next
		}
		// nix-store ends while the closures are put together.
		c.hangUp()
		cs = make([]*Closure, len(roots))
		for i, x := range roots {
			var err error
			if cs[i], err = servedClosure(x, infos); err != nil {
				return err
			}
		}
		return nil
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
