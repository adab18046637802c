package nix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// CurrentSystemLink is where NixOS points at the running system.
const CurrentSystemLink = "/run/current-system"

// CurrentSystemCmd resolves a host's running system to its store path.
func CurrentSystemCmd() Cmd {
	return Cmd{Argv: []string{"readlink", "-f", CurrentSystemLink}}
}

// CurrentSystem asks a host (through r) which store path it runs; an
// answer longer than a path can be is cut off with an error.
func CurrentSystem(ctx context.Context, r Runner) (string, error) {
	out, err := runLimited(ctx, r, CurrentSystemCmd(), maxPathLen+1)
	if errors.Is(err, errOutputCap) {
		err = capError(maxPathLen+1, "for "+CurrentSystemLink)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", CurrentSystemLink, err)
	}
	p := strings.TrimSuffix(string(out), "\n")
	if obj, ok := storeObject(p); !ok || obj != p {
		return "", fmt.Errorf("read %s: %q is not a store path", CurrentSystemLink, p)
	}
	return p, nil
}

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

// HostDiff is the per-host result of `nixdeck diff`: the package diff of
// the running system against the new one, whether a reboot is needed, and
// optionally the /etc file diffs.
type HostDiff struct {
	// Host is the node name.
	Host string `json:"host"`
	// Current and New are the store paths of the running and the new system.
	Current string `json:"current"`
	New     string `json:"new"`
	// Diff is the nvd-style package diff.
	Diff *ClosureDiff `json:"diff"`
	// KernelChanged and InitrdChanged mean the new system needs a reboot
	// to take full effect.
	KernelChanged bool `json:"kernelChanged"`
	InitrdChanged bool `json:"initrdChanged"`
	// Files lists changed files under etc/ (with --files).
	Files []FileDiff `json:"files,omitempty"`
	// Error says why this host could not be diffed ("" on success).
	Error string `json:"error,omitempty"`
}

// NewHostDiff compares a host's current closure with the new one.
func NewHostDiff(host string, cur, new *Closure) *HostDiff {
	return &HostDiff{
		Host: host, Current: cur.Root, New: new.Root,
		Diff:          DiffClosures(host+":"+CurrentSystemLink, new.Root, cur, new),
		KernelChanged: cur.Kernel != new.Kernel,
		InitrdChanged: cur.Initrd != new.Initrd,
	}
}

// RebootNeeded reports whether the kernel or initrd changes.
func (h *HostDiff) RebootNeeded() bool { return h.KernelChanged || h.InitrdChanged }
