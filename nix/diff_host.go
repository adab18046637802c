package nix

import (
	"context"
	"slices"
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
	// RebootFor names what the new system boots with differently from
	// the system the host booted (BootChanges): a reboot is needed for it
	// to take full effect. KernelChanged and InitrdChanged say the same of
	// the two most common.
	RebootFor     []string `json:"reboot_for,omitempty"`
	KernelChanged bool     `json:"kernel_changed"`
	InitrdChanged bool     `json:"initrd_changed"`
	// Files lists changed files under etc/ (with --files).
	Files []FileDiff `json:"files,omitempty"`
	// Error says why this host could not be diffed ("" on success).
	Error string `json:"error,omitempty"`
}

// NewHostDiff compares a host's current closure with the new one. Until
// SetBoot says what the host booted, the reboot hint compares the running
// system's kernel and initrd, which misses a host switched but not rebooted.
func NewHostDiff(host string, cur, new *Closure) *HostDiff {
	h := &HostDiff{Host: host, Current: cur.Root, New: new.Root,
		Diff: DiffClosures(host+":"+CurrentSystemLink, new.Root, cur, new)}
	h.setRebootFor(BootChanges(BootSpec{Kernel: cur.Kernel, Initrd: cur.Initrd}, BootSpec{Kernel: new.Kernel, Initrd: new.Initrd}))
	return h
}

// SetBoot sets the reboot hint from the spec the host booted with
// (HostState.BootedSpec) and the new system's (LocalBootSpec).
func (h *HostDiff) SetBoot(booted, next BootSpec) { h.setRebootFor(BootChanges(booted, next)) }

func (h *HostDiff) setRebootFor(what []string) {
	h.RebootFor = what
	h.KernelChanged, h.InitrdChanged = slices.Contains(what, "kernel"), slices.Contains(what, "initrd")
}

// RebootNeeded reports whether the new system needs a reboot to take full effect.
func (h *HostDiff) RebootNeeded() bool { return len(h.RebootFor) > 0 }
