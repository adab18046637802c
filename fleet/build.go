package fleet

import (
	"context"
	"errors"

	"nixdeck/nix"
)

// BuiltEvent says a node's system was built: System is its store path,
// Where the store that holds it: "local" (this machine), "target" (the
// node's own) or "builder:NAME", as the node's build_on said.
type BuiltEvent struct {
	EventBase
	System string
	Where  string
}

// BuildRequest is what Nix is given to build attrs (node → attribute)
// from the fleet's flake or file, with gc roots in rootDir ("" for none).
// It is the one place that turns the fleet's flake into the reference Nix
// gets (nix.FlakeRef: a git checkout as git+file, tracked files only;
// never a hand-made path:), and the directory Nix must run in when the
// local Nix cannot spell the flake's path in a URL.
func (f *Fleet) BuildRequest(attrs map[string]string, rootDir string) (nix.BuildRequest, error) {
	req := nix.BuildRequest{File: f.File, Attrs: attrs, RootDir: rootDir}
	if f.Flake != "" {
		ref, err := nix.FlakeRef(f.Flake)
		if err != nil {
			return req, err
		}
		req.Flake, req.WorkDir = ref.Ref, ref.Dir
	}
	return req, nil
}

// Build builds the systems of nodes where each node's build_on says (see
// build_where.go): on this machine in one Nix invocation, each distinct
// attribute once, with gc roots in rootDir (which the caller removes when
// it is done with the systems); on the targets; on builders, one build
// per builder, its outputs rooted there until the Engine closes. The
// stream carries Nix's output as operation-level LogEvents from "build",
// a BuiltEvent for each node that got its system, and every node's
// DoneEvent: a node left without one fails with its own error (its step
// and Nix's message). OpFinished.Err is set when the build failed as a
// whole (Nix missing, a flake that does not evaluate at all). It pushes
// nothing to the fleet's cache: a build made only to look (the console's
// drift check, a diff) must not write to a shared cache; see
// BuildToDeploy.
func (e *Engine) Build(ctx context.Context, nodes []*Node, rootDir string) *Stream {
	return e.buildOp(ctx, nodes, rootDir, false)
}

// BuildToDeploy builds as Build does, then, when the fleet has a cache
// to push to (cache.push), pushes the built systems' closures to it once
// (CachePushEvents; a failed push fails no node: the hosts then get
// their paths from the operator, and the last event says why). It is
// the build of a deployment, whose targets may then substitute.
func (e *Engine) BuildToDeploy(ctx context.Context, nodes []*Node, rootDir string) *Stream {
	return e.buildOp(ctx, nodes, rootDir, true)
}

// buildOp is the build operation, pushing to the cache when push is set.
func (e *Engine) buildOp(ctx context.Context, nodes []*Node, rootDir string, push bool) *Stream {
	return e.start(ctx, "build", nodes, func(ctx context.Context, o *op) error {
		built, failed, err := o.build(ctx, nodes, rootDir)
		if push && err == nil && len(built) > 0 {
			o.push(ctx, nodes, built)
		}
		for _, n := range nodes {
			o.host(n).done(ctx, failed[n.Name])
		}
		return err
	})
}

// build builds the systems of nodes, reporting PhaseBuilding for each and
// a BuiltEvent for each that got its system. failed holds the error of
// every node left without one; err is set when the build failed as a
// whole (no node got a system and no error names one of them), and then
// every node's error is that one.
func (o *op) build(ctx context.Context, nodes []*Node, rootDir string) (built map[string]string, failed map[string]error, err error) {
	for _, n := range nodes {
		if n.BuildOn != "" && n.BuildOn != BuildLocal {
			return o.buildWhere(ctx, nodes, rootDir)
		}
	}
	return o.buildLocal(ctx, nodes, rootDir)
}

// buildLocal is build for nodes that all build on this machine.
func (o *op) buildLocal(ctx context.Context, nodes []*Node, rootDir string) (built map[string]string, failed map[string]error, err error) {
	attrs := make(map[string]string, len(nodes))
	for _, n := range nodes {
		attrs[n.Name] = n.AttrPath()
		o.host(n).Phase(PhaseBuilding)
	}
	req, err := o.e.fleet.BuildRequest(attrs, rootDir)
	if err == nil {
		req.Log = func(line string) { o.s.emit(LogEvent{EventBase: o.base(""), Source: "build", Line: line}) }
		built, err = nix.Build(ctx, o.local, req)
	}
	own := nix.NodeErrors(err)
	failed = map[string]error{}
	for _, n := range nodes {
		if p, ok := built[n.Name]; ok {
			o.s.emit(BuiltEvent{EventBase: o.base(n.Name), System: p, Where: BuildLocal})
			continue
		}
		failed[n.Name] = buildFailure(n.Name, own[n.Name], err)
	}
	if len(built) > 0 || len(own) > 0 || ctx.Err() != nil {
		err = nil // each node has its own outcome
	}
	return built, failed, err
}

// buildFailure is the error of a node left without a system: its own
// build error, named by its step ("web1: build: …"), else the build's.
func buildFailure(host string, own *nix.BuildError, buildErr error) error {
	switch {
	case own != nil:
		return &HostError{Host: host, Step: own.Phase, Err: buildCause{own}}
	case buildErr != nil:
		return &HostError{Host: host, Step: "build", Err: buildErr}
	}
	return &HostError{Host: host, Step: "build", Err: errors.New("no system came out of it")}
}

// buildCause reads as what went wrong with one node's build (Nix's own
// message, no command line, no other nodes) and still matches the
// *nix.BuildError and its cause for errors.As and errors.Is.
type buildCause struct{ be *nix.BuildError }

func (c buildCause) Error() string { return c.be.Cause() }
func (c buildCause) Unwrap() error { return c.be }
