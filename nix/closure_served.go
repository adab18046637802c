package nix

import "slices"

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
	g := newServedGraph(4096)
	if err := s.queryClosure(g, tops); err != nil {
		return nil, err
	}
	for _, x := range roots {
		if x.sw != "" {
			g.name(x.sw)
		}
	}
	if err := s.queryInfos(g, 0, len(g.paths)); err != nil {
		return nil, err
	}
	return g.closures(roots)
}
