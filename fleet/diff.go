package fleet

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"os"
	"slices"
	"time"

	"nixdeck/nix"
)

// hostDiffTimeout bounds the work on one host (connect, read its system,
// the closure query, --files): a few round trips that take seconds even
// for large closures, so a host still busy after this is stuck.
const hostDiffTimeout = 3 * time.Minute

// DiffOptions says what Diff reads besides the package diff.
type DiffOptions struct {
	// Files also diffs the text files under etc/ of both systems.
	Files bool
	// NoDB reads the local closures with nix-store instead of the Nix
	// database.
	NoDB bool
	// Systems, when set, are the nodes' systems already built (Engine.Build,
	// node name → store path, kept alive by the caller's gc roots): Diff
	// builds nothing, and a node without one fails.
	Systems map[string]string
	// CacheConfig also reads each substituting host's Nix settings, in a
	// CacheConfigEvent before its DoneEvent, when the fleet has a cache
	// (a deploy's warning, Fleet.CacheCheckWanted): one more command,
	// beside the host's state on the same connection.
	CacheConfig bool
}

// DiffEvent carries one host's diff.
type DiffEvent struct {
	EventBase
	Diff *HostDiff
}

// Diff builds the systems of nodes and diffs each host's running system
// against its new one: the build as Build reports it, then, for every
// node that got a system, deploy.parallel hosts at a time, a DiffEvent
// and the host's DoneEvent. Hosts running the same system share one
// closure query. The new systems are gc roots until the operation ends:
// --files reads them after the hosts answered, which may be minutes later.
func (e *Engine) Diff(ctx context.Context, nodes []*Node, opts DiffOptions) *Stream {
	return e.start(ctx, "diff", nodes, func(ctx context.Context, o *op) error {
		return o.diff(ctx, nodes, opts)
	})
}

func (o *op) diff(ctx context.Context, nodes []*Node, opts DiffOptions) error {
	built, failed := opts.Systems, map[string]error{}
	var err error
	if built == nil {
		var rootDir string
		if rootDir, err = os.MkdirTemp("", "nixdeck-diff-"); err != nil {
			o.endAll(ctx, nodes, "build", err)
			return err
		}
		defer os.RemoveAll(rootDir)
		built, failed, err = o.build(ctx, nodes, rootDir)
	} else {
		for _, n := range nodes {
			if built[n.Name] == "" {
				failed[n.Name] = &HostError{Host: n.Name, Step: "build", Err: errors.New("no system was built for it")}
			}
		}
	}
	if err != nil {
		for _, n := range nodes {
			o.host(n).done(ctx, failed[n.Name])
		}
		return err
	}
	here, elsewhere := splitBySource(nodes, built)
	newClosures := map[string]*nix.Closure{}
	if len(here) > 0 {
		newClosures, err = localClosures(ctx, o.local, here, opts.NoDB)
	}
	if err != nil && ctx.Err() == nil {
		o.endAll(ctx, nodes, "read the new system", err)
		return err
	}
	for n, p := range elsewhere {
		// Built on a builder or on the target: read from that store
		// (see diff_source.go); a failure is that node's.
		if newClosures[p] == nil && failed[n.Name] == nil {
			if c, err := o.remoteClosure(ctx, o.host(n), p); err != nil {
				failed[n.Name] = &HostError{Host: n.Name, Step: "read the new system", Err: err}
			} else {
				newClosures[p] = c
			}
		}
	}
	var ready []*Node
	for _, n := range nodes {
		switch {
		case failed[n.Name] != nil:
			o.host(n).done(ctx, failed[n.Name])
		case newClosures[built[n.Name]] == nil: // the read was cut short
			o.host(n).done(ctx, &HostError{Host: n.Name, Step: "read the new system", Err: err})
		default:
			ready = append(ready, n)
		}
	}
	cache := &nix.ClosureCache{}
	o.hosts(ctx, ready, func(ctx context.Context, h *HostRun) error {
		readCache := opts.CacheConfig && h.Node.SubstituteOnDestination
		return h.diff(ctx, cache, newClosures[built[h.Node.Name]], opts.Files, elsewhere[h.Node] != "", readCache)
	})
	return nil
}

// endAll ends every node with the operation's own failure at step.
func (o *op) endAll(ctx context.Context, nodes []*Node, step string, err error) {
	for _, n := range nodes {
		o.host(n).done(ctx, &HostError{Host: n.Name, Step: step, Err: err})
	}
}

// diff diffs one host: its current system comes from cache when another
// host runs the same one. readCache also reads its Nix cache settings.
func (h *HostRun) diff(ctx context.Context, cache *nix.ClosureCache, newC *nix.Closure, files, remote, readCache bool) error {
	ctx, cancel := context.WithTimeout(ctx, hostDiffTimeout)
	defer cancel()
	if err := h.connect(ctx); err != nil {
		return err
	}
	if readCache {
		reported := h.op.e.readCacheConfig(ctx, h)
		defer reported() // whatever the diff's outcome, before the DoneEvent
	}
	h.Phase(PhaseReading)
	// The state says what runs and, for the reboot hint, what the host
	// booted: a host switched but not rebooted still needs the reboot.
	st, err := nix.QueryHostState(ctx, h.Runner)
	if err != nil {
		return err
	}
	cur := st.Current
	if cur == "" {
		return fmt.Errorf("%s is missing or does not lead to a store object", nix.CurrentSystemLink)
	}
	// A host already on the new system has its closure: the one read
	// here (deploy asks before every redeploy, unchanged hosts included).
	curC := newC
	if cur != newC.Root {
		if curC, err = cache.Get(ctx, h.Runner, cur); err != nil {
			return err
		}
	}
	var next nix.BootSpec
	var newTree nix.FileTree = nix.LocalTree(newC.Root)
	if remote {
		src, w, err := h.op.source(ctx, h)
		if err != nil {
			return err
		}
		newTree = nix.RemoteTree{Runner: src, Root: newC.Root}
		h.Log("diff")(fmt.Sprintf("the new system is in the store of %s: whether it needs a reboot is not known here", w))
	} else if next, err = nix.LocalBootSpec(newC.Root); err != nil {
		return err
	}
	hd := NewHostDiff(h.Node.Name, curC, newC)
	hd.SetBoot(st.BootedSpec, next)
	if files {
		hd.Files, err = nix.DiffEtc(ctx, nix.RemoteTree{Runner: h.Runner, Root: cur}, newTree)
		if err != nil {
			return err
		}
	}
	h.Emit(DiffEvent{EventBase: h.Base(), Diff: hd})
	return nil
}

// localClosures reads each distinct built system's closure once, all in
// one go (LocalClosures.QueryAll): from the database concurrently, or
// without it in one nix-store --serve that reads each shared path once.
func localClosures(ctx context.Context, r nix.Runner, built map[string]string, noDB bool) (map[string]*nix.Closure, error) {
	lc := &nix.LocalClosures{Runner: r, NoDB: noDB}
	defer lc.Close()
	paths := slices.Compact(slices.Sorted(maps.Values(built)))
	out := map[string]*nix.Closure{}
	cs, err := lc.QueryAll(ctx, paths...)
	if err != nil {
		return out, err
	}
	for i, p := range paths {
		out[p] = cs[i]
	}
	return out, nil
}

// DiffResult is one node's outcome of a Diff: its diff, or why there is
// none (a *HostError; errors.Is(Err, ErrInterrupted) for a node the
// operation's cancellation stopped).
type DiffResult struct {
	Node *Node
	// New is the system built for the node, "" when its build failed.
	New  string
	Diff *HostDiff
	Err  error
	// Cache is the host's CacheConfigEvent.Status, when it was read
	// (DiffOptions.CacheConfig) and could be.
	Cache string
}

// CollectDiffs reads a Diff stream into one DiffResult per node, in the
// order of nodes, and returns the operation's own error (OpFinished.Err).
func CollectDiffs(nodes []*Node, events iter.Seq[Event]) ([]DiffResult, error) {
	out := make([]DiffResult, len(nodes))
	for i, n := range nodes {
		out[i].Node = n
	}
	err := collect(nodes, events, func(i int, e Event) {
		switch e := e.(type) {
		case BuiltEvent:
			out[i].New = e.System
		case DiffEvent:
			out[i].Diff = e.Diff
		case CacheConfigEvent:
			out[i].Cache = e.Status
		case DoneEvent:
			out[i].Err = e.Err
		}
	})
	return out, err
}
