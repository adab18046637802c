package nix

import (
	"fmt"
	"sync"
)

// servedGraph is what one `nix-store --serve` conversation has said about
// store paths: each path gets a number when it is first named (as a root,
// in a closure or as a reference), and what the server says about it is
// kept by that number. The two closures of a diff share most of their
// paths; with numbers, the walk and each closure index slices where
// strings would be hashed into maps at every step, and the walk's next
// round is simply the paths numbered during this one.
type servedGraph struct {
	ids   map[string]int32
	paths []string
	state []pathState
	size  []int64
	refs  []span
	// edges holds every path's references, each path's in one run (refs).
	edges []int32
}

// pathState is how far the server has been asked about a path.
type pathState uint8

const (
	pathNamed     pathState = iota // named, not asked about yet
	pathAsked                      // asked about, not described (yet)
	pathDescribed                  // references and NAR size known
)

// span is a run of servedGraph.edges.
type span struct{ at, n int32 }

// newServedGraph makes a graph for about n paths.
func newServedGraph(n int) *servedGraph {
	return &servedGraph{ids: make(map[string]int32, n), paths: make([]string, 0, n), state: make([]pathState, 0, n),
		size: make([]int64, 0, n), refs: make([]span, 0, n), edges: make([]int32, 0, 4*n)}
}

// id returns b's number, numbering it if it is new: then it must name a
// store object.
func (g *servedGraph) id(b []byte) (int32, error) {
	if id, ok := g.ids[string(b)]; ok {
		return id, nil
	}
	p := string(b)
	if !isStoreObject(p) {
		return 0, fmt.Errorf("nix-store --serve: %q is not a store path", truncateForError(b))
	}
	return g.add(p), nil
}

// add numbers p, which is not numbered yet.
func (g *servedGraph) add(p string) int32 {
	id := int32(len(g.paths))
	g.ids[p] = id
	g.paths = append(g.paths, p)
	g.state = append(g.state, pathNamed)
	g.size = append(g.size, 0)
	g.refs = append(g.refs, span{})
	return id
}

// name numbers p (a root, resolved and checked by the caller) unless it
// has a number already.
func (g *servedGraph) name(p string) {
	if _, ok := g.ids[p]; !ok {
		g.add(p)
	}
}

// refsOf returns id's references.
func (g *servedGraph) refsOf(id int32) []int32 {
	s := g.refs[id]
	return g.edges[s.at : s.at+s.n]
}

// names returns the paths numbered ids, nil for none.
func (g *servedGraph) names(ids []int32) []string {
	if len(ids) == 0 {
		return nil
	}
	ps := make([]string, len(ids))
	for i, id := range ids {
		ps[i] = g.paths[id]
	}
	return ps
}

// described returns p's number if the server described p.
func (g *servedGraph) described(p string) (int32, bool) {
	id, ok := g.ids[p]
	return id, ok && g.state[id] == pathDescribed
}

// closure puts x.root's closure together by following references; every
// path reached, and x.sw, must have been described.
func (g *servedGraph) closure(x cliRoot) (*Closure, error) {
	root, ok := g.described(x.root)
	if !ok {
		return nil, fmt.Errorf("nothing known about %s, in the closure of %s", x.root, x.root)
	}
	in := make([]bool, len(g.paths))
	in[root] = true
	members := []int32{root}
	for i := 0; i < len(members); i++ {
		for _, r := range g.refsOf(members[i]) {
			if in[r] {
				continue
			}
			if g.state[r] != pathDescribed {
				return nil, fmt.Errorf("nothing known about %s, in the closure of %s", g.paths[r], x.root)
			}
			in[r] = true
			members = append(members, r)
		}
	}
	c := &Closure{Root: x.root, SW: x.sw, Paths: make(map[string]int64, len(members)), Refs: g.names(g.refsOf(root))}
	for _, id := range members {
		c.Paths[g.paths[id]] = g.size[id]
	}
	if x.sw != "" {
		sw, ok := g.described(x.sw)
		if !ok {
			return nil, fmt.Errorf("nothing known about %s, the sw of %s", x.sw, x.root)
		}
		c.SWRefs = g.names(g.refsOf(sw))
	}
	// As the database reader does: the order only when it matters.
	if orderAlways || spellingsDiffer(c.Paths) {
		order := make([]string, 0, len(members))
		refs := make(map[string][]string, len(members))
		for _, id := range members {
			order = append(order, g.paths[id])
			refs[g.paths[id]] = g.names(g.refsOf(id))
		}
		c.Order = requisitesOrder(order, refs)
	}
	return c, nil
}

// closures is closure for each of roots, side by side: g is only read,
// and a diff's two closures (a map each, the spelling check each) are
// put together on two cores while nix-store exits.
func (g *servedGraph) closures(roots []cliRoot) ([]*Closure, error) {
	cs := make([]*Closure, len(roots))
	errs := make([]error, len(roots))
	var wg sync.WaitGroup
	for i, x := range roots {
		wg.Go(func() { cs[i], errs[i] = g.closure(x) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return cs, nil
}
