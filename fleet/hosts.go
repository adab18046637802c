package fleet

import (
	"context"
	"fmt"
	"strings"
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
	return SSHRunner{Client: c}, nil
}

// Fresh implements Connector with a new connection.
func (p PoolConnector) Fresh(ctx context.Context, n *Node) (nix.Runner, error) {
	c, err := p.Pool.Fresh(ctx, n.Target())
	if err != nil {
		return nil, err
	}
	return SSHRunner{Client: c}, nil
}

// HostFunc is the work done on one host; events go through h.
type HostFunc func(ctx context.Context, h *HostRun) error

// HostRun is one host's side of an operation: its node, a runner on its
// connection, and the way to report events.
type HostRun struct {
	Node   *Node
	Runner nix.Runner
	conn   Connector
	emit   func(Event)
}

// Base returns the HostEvent for a new event about this host, stamped now.
func (h *HostRun) Base() HostEvent { return HostEvent{HostName: h.Node.Name, Time: time.Now()} }

// Emit publishes an event (it blocks while the reader is behind: events are
// never dropped).
func (h *HostRun) Emit(e Event) { h.emit(e) }

// Phase reports that the host entered phase p.
func (h *HostRun) Phase(p Phase) { h.emit(PhaseEvent{HostEvent: h.Base(), Phase: p}) }

// Log returns a callback that reports lines from source, for nix's Log fields.
func (h *HostRun) Log(source string) func(string) {
	return func(line string) { h.emit(LogEvent{HostEvent: h.Base(), Source: source, Line: line}) }
}

// Reconnect dials a fresh connection (for nix.ActivateRequest.Reconnect)
// and makes it the host's Runner from now on.
func (h *HostRun) Reconnect(ctx context.Context) (nix.Runner, error) {
	r, err := h.conn.Fresh(ctx, h.Node)
	if err != nil {
		return nil, err
	}
	h.Runner = r
	return r, nil
}

// Copy copies the closure of system from this machine to the host,
// reporting PhaseCopying, CopyEvents and a summary log line.
func (h *HostRun) Copy(ctx context.Context, system string, substitute bool) (nix.CopyResult, error) {
	h.Phase(PhaseCopying)
	res, err := nix.Copy(ctx, nix.LocalRunner{}, h.Runner, nix.CopyRequest{Paths: []string{system}, Substitute: substitute,
		Progress: func(p nix.CopyProgress) { h.Emit(CopyEvent{HostEvent: h.Base(), CopyProgress: p}) }})
	if err != nil {
		return res, fmt.Errorf("copy %s: %w", system, err)
	}
	h.logCopy(res)
	return res, nil
}

// Activate runs action for system on the host, detached from the
// connection (reconnecting if it drops), streaming the output as LogEvents
// from "activate" and reporting the result as an ActivationEvent. The
// error is non-nil when the outcome is unknown or starting failed; a known
// bad outcome (exit 2, 4, …) is in the result, not the error.
func (h *HostRun) Activate(ctx context.Context, action nix.Action, system string, timeout time.Duration) (nix.ActivateResult, error) {
	h.Phase(PhaseActivating)
	res, err := nix.Activate(ctx, h.Runner, nix.ActivateRequest{Action: action, Path: system, OpID: nix.NewOpID(action),
		Timeout: timeout, Log: h.Log("activate"), Reconnect: h.Reconnect})
	h.Emit(ActivationEvent{HostEvent: h.Base(), Action: action, Result: res})
	return res, err
}

// RunHosts runs fn for every node, at most parallel at a time, and returns
// the stream of their events; the channel closes when every host is done.
// Each host gets PhaseQueued first and a DoneEvent last; a host that cannot
// be reached ends with its DoneEvent carrying the cause, never silently.
func RunHosts(ctx context.Context, conn Connector, nodes []*Node, parallel int, fn HostFunc) <-chan Event {
	events := make(chan Event, 64)
	emit := func(e Event) { events <- e }
	parallel = max(parallel, 1)
	go func() {
		defer close(events)
		for _, n := range nodes {
			emit(PhaseEvent{HostEvent: HostEvent{HostName: n.Name, Time: time.Now()}, Phase: PhaseQueued})
		}
		slots := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for _, n := range nodes {
			h := &HostRun{Node: n, conn: conn, emit: emit}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				h.done(ctx.Err())
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				h.done(h.run(ctx, fn))
			}()
		}
		wg.Wait()
	}()
	return events
}

func (h *HostRun) run(ctx context.Context, fn HostFunc) error {
	h.Phase(PhaseConnecting)
	r, err := h.conn.Runner(ctx, h.Node)
	if err != nil {
		return err
	}
	h.Runner = r
	return fn(ctx, h)
}

// done ends the host's stream: the final phase, then DoneEvent.
func (h *HostRun) done(err error) {
	if err != nil {
		err = hostErr(h.Node.Name, err)
		h.Phase(PhaseFailed)
	} else {
		h.Phase(PhaseDone)
	}
	h.emit(DoneEvent{HostEvent: h.Base(), Err: err})
}

// hostErr makes sure an error names its host.
func hostErr(name string, err error) error {
	if strings.HasPrefix(err.Error(), name) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}
