package fleet

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"nixdeck/nix"
)

// stateTimeout bounds reading one connected host's state. The script
// takes milliseconds; a host silent for this long is stuck, and bounding
// each host (the connection has its own dial and handshake bounds) rather
// than the whole run means hosts late in a large fleet are still read.
var stateTimeout = 30 * time.Second

// ReadStates reads the state of every node (one round trip each,
// deploy.parallel at a time). Each host reports a StateEvent (and, when
// the fleet has a cache, a CacheConfigEvent), then its DoneEvent;
// unreachable hosts end with the cause in DoneEvent.Err.
func (e *Engine) ReadStates(ctx context.Context, nodes []*Node) *Stream {
	return e.RunHosts(ctx, "status", nodes, func(ctx context.Context, h *HostRun) error {
		h.Phase(PhaseReading)
		qctx, cancel := context.WithTimeout(ctx, stateTimeout)
		defer cancel()
		cacheConfig := e.readCacheConfig(qctx, h)
		s, err := nix.QueryHostState(qctx, h.Runner)
		cacheConfig()
		if err != nil && ctx.Err() == nil && errors.Is(qctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("read host state: no answer within %s: %w", stateTimeout, context.DeadlineExceeded)
		}
		if err != nil {
			return err
		}
		h.Emit(StateEvent{EventBase: h.Base(), State: s})
		return nil
	})
}

// HostStatus is one host's line in a status report: its state, or why
// there is none.
type HostStatus struct {
	Node  *Node
	State *nix.HostState
	Err   error
	// Cache is whether the host can substitute from the fleet's cache
	// (CacheConfigEvent.Status); "" when the fleet has none or it could
	// not be read, CacheErr then saying why.
	Cache    string
	CacheErr error
}

// CollectStates reads a ReadStates stream (s.All(), or a sequence that
// passes its events through) into one HostStatus per node, in the order
// of nodes.
func CollectStates(nodes []*Node, events iter.Seq[Event]) []HostStatus {
	out := make([]HostStatus, len(nodes))
	for i, n := range nodes {
		out[i].Node = n
	}
	collect(nodes, events, func(i int, e Event) {
		switch e := e.(type) {
		case StateEvent:
			out[i].State = e.State
		case CacheConfigEvent:
			out[i].Cache, out[i].CacheErr = e.Status, e.Err
		case DoneEvent:
			out[i].Err = e.Err
		}
	})
	return out
}

// collect reads events to their end, handing each event about one of
// nodes to on with the node's index, and returns the operation's own
// error (OpFinished.Err).
func collect(nodes []*Node, events iter.Seq[Event], on func(i int, e Event)) error {
	idx := make(map[string]int, len(nodes))
	for i, n := range nodes {
		idx[n.Name] = i
	}
	var err error
	for e := range events {
		if f, ok := e.(OpFinished); ok {
			err = f.Err
		}
		if i, ok := idx[e.Host()]; ok {
			on(i, e)
		}
	}
	return err
}
