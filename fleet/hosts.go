package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"nixdeck/fleet/remote"
	"nixdeck/nix"
)

// Connector hands out runners for nodes: Runner on the node's shared
// connection, Fresh on a new one (after the shared one dropped).
type Connector interface {
	Runner(ctx context.Context, n *Node) (nix.Runner, error)
	Fresh(ctx context.Context, n *Node) (nix.Runner, error)
}

// PoolConnector connects through a remote.Pool (one connection per host).
type PoolConnector struct{ Pool *remote.Pool }

// Runner implements Connector with the pooled connection.
func (p PoolConnector) Runner(ctx context.Context, n *Node) (nix.Runner, error) {
	c, err := p.Pool.Get(ctx, n.Target())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Fresh implements Connector with a new connection.
func (p PoolConnector) Fresh(ctx context.Context, n *Node) (nix.Runner, error) {
	c, err := p.Pool.Fresh(ctx, n.Target())
	if err != nil {
		return nil, err
	}
	return c, nil
}

// HostFunc is the work done on one host; events go through h.
type HostFunc func(ctx context.Context, h *HostRun) error

// HostRun is one host's side of an operation: its node, runners on its
// connection and on this machine, and the way to report events. Every
// command either runner runs is reported (CommandStarted, CommandEvent).
type HostRun struct {
	Node *Node
	// Runner runs commands on the host.
	Runner nix.Runner
	// Local runs commands on this machine for the host (the sending side
	// of a copy): the Engine's Options.Local.
	Local nix.Runner
	op    *op
}

// host returns the HostRun of n in the operation (not yet connected).
func (o *op) host(n *Node) *HostRun {
	return &HostRun{Node: n, Local: commandRunner{r: o.e.local, op: o, host: n.Name, local: true}, op: o}
}

// Base returns the EventBase for a new event about this host, stamped now.
func (h *HostRun) Base() EventBase { return h.op.base(h.Node.Name) }

// Emit publishes an event. It waits while the reader is far behind,
// until the operation is cancelled; progress never waits (see Stream).
func (h *HostRun) Emit(e Event) { h.op.s.emit(e) }

// Phase reports that the host entered phase p.
func (h *HostRun) Phase(p Phase) { h.Emit(PhaseEvent{EventBase: h.Base(), Phase: p}) }

// Log returns a callback that reports lines from source, for nix's Log fields.
func (h *HostRun) Log(source string) func(string) {
	return func(line string) { h.Emit(LogEvent{EventBase: h.Base(), Source: source, Line: line}) }
}

// connect makes Runner the host's shared connection.
func (h *HostRun) connect(ctx context.Context) error {
	h.Phase(PhaseConnecting)
	r, err := h.op.e.conn.Runner(ctx, h.Node)
	if err != nil {
		return err
	}
	h.Runner = commandRunner{r: r, op: h.op, host: h.Node.Name}
	return nil
}

// Reconnect dials a fresh connection (for nix.ActivateRequest.Reconnect)
// and makes it the host's Runner from now on.
func (h *HostRun) Reconnect(ctx context.Context) (nix.Runner, error) {
	r, err := h.op.e.conn.Fresh(ctx, h.Node)
	if err != nil {
		return nil, err
	}
	h.Runner = commandRunner{r: r, op: h.op, host: h.Node.Name}
	return h.Runner, nil
}

// Copy copies the closure of system from this machine (Local) to the
// host, reporting PhaseCopying, CopyEvents and a summary log line.
func (h *HostRun) Copy(ctx context.Context, system string, substitute bool) (nix.CopyResult, error) {
	return h.copy(ctx, nix.CopyRequest{Paths: []string{system}, Substitute: substitute})
}

// copy is Copy for any request (a rollout's adds a GC root); the
// progress callback is the HostRun's.
func (h *HostRun) copy(ctx context.Context, req nix.CopyRequest) (nix.CopyResult, error) {
	h.Phase(PhaseCopying)
	req.Progress = h.copyProgress
	res, err := nix.Copy(ctx, h.Local, h.Runner, req)
	h.copySource(res, req.Substitute, err)
	if err != nil {
		return res, &HostError{Host: h.Node.Name, Step: "copy", Err: fmt.Errorf("%s: %w", req.Paths[0], err)}
	}
	return res, nil
}

// copyProgress reports how far the host's copy has got.
func (h *HostRun) copyProgress(p nix.CopyProgress) {
	h.Emit(CopyEvent{EventBase: h.Base(), CopyProgress: p})
}

// Activate runs action for system on the host, detached from the
// connection (reconnecting if it drops), streaming the output as LogEvents
// from "activate" and reporting the result as an ActivationEvent. The
// error is non-nil when the outcome is unknown or starting failed; a known
// bad outcome (exit 2, 4, …) is in the result, not the error.
func (h *HostRun) Activate(ctx context.Context, action nix.Action, system string, timeout time.Duration) (nix.ActivateResult, error) {
	return h.activate(ctx, nix.ActivateRequest{Action: action, Path: system, OpID: nix.NewOpID(action), Timeout: timeout})
}

// activate is Activate for any request (a rollout's names its run
// directory, may go to a generation and be confirmed); the log, the
// reconnection and the phases are the HostRun's. For switch and boot the
// detached activation sets the system profile first: PhaseProfile until
// switch-to-configuration starts (nix.StageSwitching), then
// PhaseActivating.
func (h *HostRun) activate(ctx context.Context, req nix.ActivateRequest) (nix.ActivateResult, error) {
	first := PhaseActivating
	if req.Action == nix.Switch || req.Action == nix.Boot {
		first = PhaseProfile
	}
	h.Phase(first)
	stage := req.Stage
	req.Stage = func(s nix.ActivateStage) {
		if s == nix.StageSwitching && first == PhaseProfile {
			h.Phase(PhaseActivating)
		}
		if stage != nil {
			stage(s)
		}
	}
	req.Log, req.Reconnect = h.Log("activate"), h.Reconnect
	res, err := nix.Activate(ctx, h.Runner, req)
	h.Emit(ActivationEvent{EventBase: h.Base(), Action: req.Action, Result: res})
	return res, err
}

// RunHosts runs fn for every node on its shared connection, as an
// operation of kind, deploy.parallel hosts at a time, and returns the
// operation's stream. Each host gets PhaseQueued first and a DoneEvent
// last; a host that cannot be reached ends with its DoneEvent carrying
// the cause, never silently.
func (e *Engine) RunHosts(ctx context.Context, kind string, nodes []*Node, fn HostFunc) *Stream {
	return e.start(ctx, kind, nodes, func(ctx context.Context, o *op) error {
		o.hosts(ctx, nodes, func(ctx context.Context, h *HostRun) error {
			if err := h.connect(ctx); err != nil {
				return err
			}
			return fn(ctx, h)
		})
		return nil
	})
}

// hosts runs fn for every node, deploy.parallel at a time, and returns
// when every one of them has ended with its DoneEvent: the one fan-out
// of every operation. Nodes not started when ctx ends are interrupted.
func (o *op) hosts(ctx context.Context, nodes []*Node, fn HostFunc) {
	slots := make(chan struct{}, o.e.parallel())
	var wg sync.WaitGroup
	for _, n := range nodes {
		h := o.host(n)
		if !acquire(ctx, slots) {
			h.done(ctx, ctx.Err())
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			h.done(ctx, fn(ctx, h))
		})
	}
	wg.Wait()
}

// acquire takes a slot, unless ctx ends first: once it has, no host
// starts, even when a slot is free at the same moment.
func acquire(ctx context.Context, slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		if ctx.Err() == nil {
			return true
		}
		<-slots
	case <-ctx.Done():
	}
	return false
}

// done ends the host's part of the operation: the final phase, then
// DoneEvent. A host that had not finished when the operation was
// cancelled is interrupted, whatever error the cancellation made its work
// end with (a cancelled dial, a killed command); a deadline on the whole
// operation is a failure.
func (h *HostRun) done(ctx context.Context, err error) {
	switch {
	case err == nil:
		h.Phase(PhaseDone)
	case errors.Is(ctx.Err(), context.Canceled):
		err = &HostError{Host: h.Node.Name, Err: &interruptedError{err}}
		h.Phase(PhaseInterrupted)
	default:
		err = hostError(h.Node.Name, "", err)
		h.Phase(PhaseFailed)
	}
	h.Emit(DoneEvent{EventBase: h.Base(), Err: err})
}
