package fleet

import (
	"context"
	"fmt"

	"nixdeck/nix"
)

// A node's system is sent to it from the store that holds it, as its
// build_on says (see build_where.go): this machine's, the builder's, or
// the node's own. From a builder it is relayed: nix.CopyMany runs its
// source side (nix-store --query, --dump-db, --serve) over nixdeck's
// connection to the builder and streams each path straight into the
// hosts' imports, so the outputs cross this machine's memory once for
// all the hosts lacking them and never land in its store. A node built
// on itself already has its system: the copy from its own store finds
// nothing missing and only makes the GC root.

// source returns the runner of the store h's system is in, and its name
// ("local", "target", "builder:NAME") for messages.
func (o *op) source(ctx context.Context, h *HostRun) (nix.Runner, string, error) {
	switch w := where(h.Node); w {
	case BuildLocal:
		return o.local, w, nil
	case BuildTarget:
		if h.Runner == nil {
			if err := h.connect(ctx); err != nil {
				return nil, w, err
			}
		}
		return h.Runner, w, nil
	default:
		b := o.e.fleet.Builder(h.Node.BuilderName())
		if b == nil {
			return nil, w, fmt.Errorf("%s: no such builder", w)
		}
		r, err := o.e.conn.Runner(ctx, b.Node())
		if err != nil {
			return nil, w, fmt.Errorf("connect to %s to send the system from there: %w", w, err)
		}
		return commandRunner{r: r, op: o, builder: w}, w, nil
	}
}
