package fleet

import (
	"context"
	"fmt"
	"sync"

	"nixdeck/nix"
)

// CopySystem copies the closure of system from this machine (the
// Engine's Options.Local) to every node, as an operation of kind "copy",
// deploy.parallel hosts at a time, and returns its stream.
//
// Hosts go in batches of deploy.parallel. A batch connects to all its
// hosts at once, then copies with nix.CopyMany: the closure is read once
// and streamed to all the hosts at once, each path to those lacking it,
// so this machine does the work of one host rather than one per host.
// The shared stream runs at the pace of its slowest host; a host that
// fails leaves it and ends with its own error, the others go on.
//
// Each host gets PhaseQueued first, then PhaseConnecting, PhaseCopying,
// CopyEvents, a CopySourceEvent and a summary line from "copy", and its DoneEvent last
// (carrying the cause when it could not be reached or copied to).
func (e *Engine) CopySystem(ctx context.Context, nodes []*Node, system string) *Stream {
	return e.start(ctx, "copy", nodes, func(ctx context.Context, o *op) error {
		parallel := e.parallel()
		for start := 0; start < len(nodes); start += parallel {
			batch := make([]*HostRun, 0, parallel)
			for _, n := range nodes[start:min(start+parallel, len(nodes))] {
				batch = append(batch, o.host(n))
			}
			copyBatch(ctx, o.local, batch, system)
		}
		return nil
	})
}

// copyBatch connects to the batch's hosts concurrently, then copies to
// those it reached with one nix.CopyMany, whose local side (shared by
// the batch's hosts) runs on local.
func copyBatch(ctx context.Context, local nix.Runner, batch []*HostRun, system string) {
	if err := ctx.Err(); err != nil {
		for _, h := range batch {
			h.done(ctx, err)
		}
		return
	}
	connErrs := make([]error, len(batch))
	var wg sync.WaitGroup
	for i, h := range batch {
		wg.Go(func() { connErrs[i] = h.connect(ctx) })
	}
	wg.Wait()
	var reached []*HostRun
	var targets []nix.CopyTarget
	for i, h := range batch {
		if connErrs[i] != nil {
			h.done(ctx, connErrs[i])
			continue
		}
		h.Phase(PhaseCopying)
		reached = append(reached, h)
		targets = append(targets, nix.CopyTarget{Runner: h.Runner, Substitute: h.Node.SubstituteOnDestination, Progress: h.copyProgress})
	}
	if len(targets) == 0 {
		return
	}
	for i, o := range nix.CopyMany(ctx, local, targets, nix.CopyRequest{Paths: []string{system}}) {
		h := reached[i]
		h.copySource(o.CopyResult, targets[i].Substitute, o.Err)
		if o.Err != nil {
			h.done(ctx, &HostError{Host: h.Node.Name, Step: "copy", Err: fmt.Errorf("%s: %w", system, o.Err)})
			continue
		}
		h.done(ctx, nil)
	}
}
