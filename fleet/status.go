package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"nixdeck/nix"
)

// stateTimeout bounds reading one connected host's state. The script
// takes milliseconds; a host silent for this long is stuck, and bounding
// each host (the connection has its own dial and handshake bounds) rather
// than the whole run means hosts late in a large fleet are still read.
var stateTimeout = 30 * time.Second

// ReadStates reads the state of every node (one round trip each, at most
// parallel at a time). Each host reports a StateEvent, then its DoneEvent;
// unreachable hosts end with the cause in DoneEvent.Err.
func ReadStates(ctx context.Context, conn Connector, nodes []*Node, parallel int) <-chan Event {
	return RunHosts(ctx, conn, nodes, parallel, func(ctx context.Context, h *HostRun) error {
		h.Phase(PhaseReading)
		qctx, cancel := context.WithTimeout(ctx, stateTimeout)
		defer cancel()
		s, err := nix.QueryHostState(qctx, h.Runner)
		if err != nil && ctx.Err() == nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("read host state: no answer within %s: %w", stateTimeout, context.DeadlineExceeded)
		}
		if err != nil {
			return err
		}
		h.Emit(StateEvent{HostEvent: h.Base(), State: s})
		return nil
	})
}

// HostStatus is one host's line in a status report: its state, or why
// there is none.
type HostStatus struct {
	Node  *Node
	State *nix.HostState
	Err   error
}

// CollectStates drains a ReadStates stream into one HostStatus per node,
// in the order of nodes.
func CollectStates(nodes []*Node, events <-chan Event) []HostStatus {
	idx := map[string]int{}
	out := make([]HostStatus, len(nodes))
	for i, n := range nodes {
		idx[n.Name] = i
		out[i].Node = n
	}
	for e := range events {
		i, ok := idx[e.Host()]
		if !ok {
			continue
		}
		switch e := e.(type) {
		case StateEvent:
			out[i].State = e.State
		case DoneEvent:
			out[i].Err = e.Err
		}
	}
	return out
}
