package nix

import (
	"fmt"
	"slices"
)

// serveClosures asks nix-store --serve for the closures of roots in two
// requests — the closure of all of them, then the references and NAR
// size of every path in it (and of each sw outside it) — and splits what
// came back into each root's closure by its references.
func serveClosures(s *serveConn, roots []cliRoot) ([]*Closure, error) {
	var tops []string
	for _, x := range roots {
		if !slices.Contains(tops, x.root) {
			tops = append(tops, x.root)
		}
	}
	all, err := s.queryClosure(tops)
	if err != nil {
		return nil, err
	}
	ask := slices.Clone(all)
	for _, x := range roots {
		if x.sw != "" && !slices.Contains(ask, x.sw) {
			ask = append(ask, x.sw)
		}
	}
	infos, err := s.queryInfos(ask)
	if err != nil {
		return nil, err
	}
	cs := make([]*Closure, len(roots))
	for i, x := range roots {
		if cs[i], err = servedClosure(x, infos); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// servedClosure walks x.root's references through infos into its
// closure; every path reached must be described there.
func servedClosure(x cliRoot, infos map[string]servedInfo) (*Closure, error) {
	c := &Closure{Root: x.root, SW: x.sw, Paths: make(map[string]int64, len(infos))}
	stack := []string{x.root}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, seen := c.Paths[p]; seen {
			continue
		}
		info, ok := infos[p]
		if !ok {
			return nil, fmt.Errorf("nothing known about %s, in the closure of %s", p, x.root)
		}
		c.Paths[p] = info.narSize
		stack = append(stack, info.refs...)
	}
	c.Refs = infos[x.root].refs
	if x.sw != "" {
		info, ok := infos[x.sw]
		if !ok {
			return nil, fmt.Errorf("nothing known about %s, the sw of %s", x.sw, x.root)
		}
		c.SWRefs = info.refs
	}
	// As the database reader does: the order only when it matters.
	if orderAlways || spellingsDiffer(c.Paths) {
		order := make([]string, 0, len(c.Paths))
		refs := make(map[string][]string, len(c.Paths))
		for p := range c.Paths {
			order = append(order, p)
			refs[p] = slices.Clone(infos[p].refs)
		}
		c.Order = requisitesOrder(order, refs)
	}
	return c, nil
}
