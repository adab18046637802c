package nix

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// The hosts of one CopyMany may each get a system of their own (a
// rollout builds one per host), yet most of their closures are shared:
// the same packages, configuration files that differ in one line. So the
// closure of all of them is asked for once, each host is asked only
// about its own closure, and the paths the hosts lack are read from this
// machine's store once, each going to the hosts that lack it.

// copyPlan is what CopyMany sends: each target's roots, and the closure
// of all of them, dependencies first.
type copyPlan struct {
	roots   [][]string // per target
	closure []string
	// shared: every target has the same roots, so each one's closure
	// is closure itself.
	shared bool
}

// planCopy finds each target's roots (its own Paths, else req.Paths) and
// the closure of them all, on local.
func planCopy(ctx context.Context, local Runner, targets []CopyTarget, req CopyRequest) (*copyPlan, error) {
	p := &copyPlan{roots: make([][]string, len(targets)), shared: true}
	var all []string
	seen := map[string]bool{}
	for i, t := range targets {
		p.roots[i] = req.Paths
		if len(t.Paths) > 0 {
			p.roots[i] = t.Paths
		}
		if len(p.roots[i]) == 0 {
			return nil, errors.New("nothing to copy: no store path given")
		}
		p.shared = p.shared && slices.Equal(p.roots[i], p.roots[0])
		for _, r := range p.roots[i] {
			if !seen[r] {
				seen[r] = true
				all = append(all, r)
			}
		}
	}
	var err error
	p.closure, err = requisitesOf(ctx, local, all)
	return p, err
}

// requisitesOf is Requisites for any number of roots: each command line
// stays under maxSourceArgBytes, and the closures are merged keeping the first
// place of each path. That is still a dependency order: a path's
// dependencies are in the first closure that holds it, before it, or
// came earlier still.
func requisitesOf(ctx context.Context, local Runner, roots []string) ([]string, error) {
	chunks := argChunks(roots, maxSourceArgBytes)
	if len(chunks) == 1 {
		return checkedPaths(Requisites(ctx, local, roots))
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range chunks {
		paths, err := Requisites(ctx, local, c)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return checkedPaths(out, nil)
}

// checkedPaths refuses a closure holding anything but store objects: the
// source may be a builder (see fleet/source.go), a host like any other,
// and the paths go on to the targets' Nix and into error messages.
func checkedPaths(paths []string, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if err := checkStoreObject(p); err != nil {
			return nil, fmt.Errorf("closure: %s: %w", excerpt(p), err)
		}
	}
	return paths, nil
}

// closureOf returns the closure of target i's roots, in the order of the
// whole closure, from the paths' references (infos of the whole closure).
func (p *copyPlan) closureOf(i int, infos []PathInfo) ([]string, error) {
	if p.shared {
		return p.closure, nil
	}
	refs := make(map[string][]string, len(infos))
	for _, info := range infos {
		refs[info.Path] = info.References
	}
	in := map[string]bool{}
	todo := slices.Clone(p.roots[i])
	for len(todo) > 0 {
		path := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if in[path] {
			continue
		}
		r, ok := refs[path]
		if !ok {
			return nil, fmt.Errorf("path info: nothing known about %s", path)
		}
		in[path] = true
		todo = append(todo, r...)
	}
	out := make([]string, 0, len(in))
	for _, path := range p.closure {
		if in[path] {
			out = append(out, path)
		}
	}
	return out, nil
}
