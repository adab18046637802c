package nix

import (
	"context"
	"sync"
	"time"
)

// CurrentSystemLink is where NixOS points at the running system.
const CurrentSystemLink = "/run/current-system"

// ClosureCache remembers remote closures by store path, so hosts that run
// the same system share one query: concurrent callers asking for the same
// path wait for the first one's round trip instead of making their own.
// A failed query is not cached (the next host may answer), and a caller
// that has waited closureWaitPatience asks its own host, so one stuck host
// does not take the others down with it.
type ClosureCache struct {
	mu sync.Mutex
	m  map[string]*closureCall
}

// closureWaitPatience is how long a host waits for another host's closure
// query of the same system; a query takes seconds even for large closures.
var closureWaitPatience = 30 * time.Second

type closureCall struct {
	done chan struct{}
	c    *Closure
	err  error
}

// Get returns the closure of storePath, querying it through r (one round
// trip, ClosureCmd) unless another host already did.
func (cc *ClosureCache) Get(ctx context.Context, r Runner, storePath string) (*Closure, error) {
	for {
		cc.mu.Lock()
		if cc.m == nil {
			cc.m = map[string]*closureCall{}
		}
		call, ok := cc.m[storePath]
		if !ok {
			call = &closureCall{done: make(chan struct{})}
			cc.m[storePath] = call
			cc.mu.Unlock()
			call.c, call.err = QueryClosure(ctx, r, storePath)
			if call.err != nil {
				cc.mu.Lock()
				delete(cc.m, storePath)
				cc.mu.Unlock()
			}
			close(call.done)
			return call.c, call.err
		}
		cc.mu.Unlock()
		patience := time.NewTimer(closureWaitPatience)
		select {
		case <-call.done:
			patience.Stop()
		case <-ctx.Done():
			patience.Stop()
			return nil, ctx.Err()
		case <-patience.C:
			// The host asked first is slow or stuck: ask ours rather than
			// share its fate (one extra round trip, only in this case).
			return QueryClosure(ctx, r, storePath)
		}
		if call.err == nil {
			return call.c, nil
		}
		// The first caller failed; try ourselves through our own host.
	}
}
