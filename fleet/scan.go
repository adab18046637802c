package fleet

import (
	"context"
	"iter"

	"nixdeck/fleet/remote"
)

// KeysEvent carries the host keys seen on the way to a host: bastions
// first, then the node's own key.
type KeysEvent struct {
	EventBase
	Keys []remote.HostKey
}

// ScanKeys connects to every node just far enough to see its host key
// (remote.Scan, with the Engine's SSH options), deploy.parallel at a
// time, for `nixdeck trust`: a KeysEvent per node that answered, and
// every node's DoneEvent (a changed or revoked key is its error).
func (e *Engine) ScanKeys(ctx context.Context, nodes []*Node) *Stream {
	return e.start(ctx, "trust", nodes, func(ctx context.Context, o *op) error {
		o.hosts(ctx, nodes, func(ctx context.Context, h *HostRun) error {
			h.Phase(PhaseConnecting)
			keys, err := remote.Scan(ctx, h.Node.Target(), e.opts.SSH)
			if err != nil {
				return err
			}
			h.Emit(KeysEvent{EventBase: h.Base(), Keys: keys})
			return nil
		})
		return nil
	})
}

// ScanResult is what scanning one node found.
type ScanResult struct {
	Node *Node
	Keys []remote.HostKey
	Err  error
}

// CollectKeys reads a ScanKeys stream into one ScanResult per node, in
// the order of nodes.
func CollectKeys(nodes []*Node, events iter.Seq[Event]) []ScanResult {
	out := make([]ScanResult, len(nodes))
	for i, n := range nodes {
		out[i].Node = n
	}
	collect(nodes, events, func(i int, e Event) {
		switch e := e.(type) {
		case KeysEvent:
			out[i].Keys = e.Keys
		case DoneEvent:
			out[i].Err = e.Err
		}
	})
	return out
}
