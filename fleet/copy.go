package fleet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"nixdeck/nix"
)

// CopySystem copies the closure of system from local (this machine's
// store; nix.LocalRunner in nixdeck) to every node, parallel hosts at a
// time, and returns the stream of their events; the channel closes when
// every host is done.
//
// Hosts go in batches of parallel. A batch connects to all its hosts
// at once, then copies with nix.CopyMany: the closure is read once, and
// the hosts that lack exactly the same paths share one export stream, so
// this machine does the work of one host per group rather than per host.
// A shared stream runs at the pace of its slowest host; a host that fails
// leaves it and ends with its own error, the others go on.
//
// Each host gets PhaseQueued first, then PhaseConnecting, PhaseCopying,
// CopyEvents and a summary line from "copy", and its DoneEvent last
// (carrying the cause when it could not be reached or copied to).
func CopySystem(ctx context.Context, conn Connector, local nix.Runner, nodes []*Node, system string, parallel int) <-chan Event {
	events := make(chan Event, 64)
	emit := func(e Event) { events <- e }
	parallel = max(parallel, 1)
	go func() {
		defer close(events)
		for _, n := range nodes {
			emit(PhaseEvent{HostEvent: HostEvent{HostName: n.Name, Time: time.Now()}, Phase: PhaseQueued})
		}
		for start := 0; start < len(nodes); start += parallel {
			batch := make([]*HostRun, 0, parallel)
			for _, n := range nodes[start:min(start+parallel, len(nodes))] {
				batch = append(batch, &HostRun{Node: n, conn: conn, emit: emit})
			}
			copyBatch(ctx, local, batch, system)
		}
	}()
	return events
}

// copyBatch connects to the batch's hosts concurrently, then copies to
// those it reached with one nix.CopyMany.
func copyBatch(ctx context.Context, local nix.Runner, batch []*HostRun, system string) {
	if err := ctx.Err(); err != nil {
		for _, h := range batch {
			h.done(err)
		}
		return
	}
	connErrs := make([]error, len(batch))
	var wg sync.WaitGroup
	for i, h := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.Phase(PhaseConnecting)
			h.Runner, connErrs[i] = h.conn.Runner(ctx, h.Node)
		}()
	}
	wg.Wait()
	var reached []*HostRun
	var targets []nix.CopyTarget
	for i, h := range batch {
		if connErrs[i] != nil {
			h.done(connErrs[i])
			continue
		}
		h.Phase(PhaseCopying)
		reached = append(reached, h)
		targets = append(targets, nix.CopyTarget{Runner: h.Runner, Substitute: h.Node.SubstituteOnDestination,
			Progress: func(p nix.CopyProgress) { h.Emit(CopyEvent{HostEvent: h.Base(), CopyProgress: p}) }})
	}
	if len(targets) == 0 {
		return
	}
	for i, o := range nix.CopyMany(ctx, local, targets, nix.CopyRequest{Paths: []string{system}}) {
		h := reached[i]
		if o.Err != nil {
			h.done(fmt.Errorf("copy %s: %w", system, o.Err))
			continue
		}
		h.logCopy(o.CopyResult)
		h.done(nil)
	}
}

// logCopy reports what a finished copy sent, as one "copy" log line.
func (h *HostRun) logCopy(res nix.CopyResult) {
	h.Log("copy")(fmt.Sprintf("copied %d of %d paths (%d bytes), %d substituted on the host",
		len(res.Missing), res.Closure, res.Bytes, res.Substituted))
}
