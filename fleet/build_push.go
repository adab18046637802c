package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"nixdeck/nix"
)

// After a build, a fleet with `cache.push` puts the systems' closures in
// its binary cache, once, signed with `cache.sign_key` when it has one,
// before any host is copied to: the hosts that substitute then fetch
// from the cache, and the operator sends only what it lacks. Systems
// built here are pushed from this machine's store; systems built on a
// builder straight from the builder's store (nix copy --from ssh-ng://),
// through this machine's memory. Systems built on their targets are not
// pushed: they exist only there.

// CachePushEvent is the operation-level progress of the push to the
// cache: paths and NAR bytes sent so far, of PathsTotal the cache
// lacked; Done once it ended, with Err when it failed.
type CachePushEvent struct {
	EventBase
	// Cache is the cache's store URI, its query (a key path) left out.
	Cache             string
	Paths, PathsTotal int
	Bytes             int64
	Done              bool
	Err               error
}

// stateKind marks CachePushEvent as progress a newer one supersedes.
func (CachePushEvent) stateKind() string { return "cache push" }

// push pushes the built systems to the fleet's cache, when it has one to
// push to; the last event's error names the cache and, for a builder's
// systems, the builder.
func (o *op) push(ctx context.Context, nodes []*Node, built map[string]string) {
	c := o.e.fleet.Cache
	if c == nil || c.Push == "" {
		return
	}
	bySource := map[string][]string{}
	var order []string
	for _, n := range nodes {
		p, ok := built[n.Name]
		w := where(n)
		if !ok || w == BuildTarget {
			continue
		}
		if !slices.Contains(order, w) {
			order = append(order, w)
		}
		if !slices.Contains(bySource[w], p) {
			bySource[w] = append(bySource[w], p)
		}
	}
	cache := cacheName(c.Push)
	var sum CachePushEvent
	if c.SignKey != "" {
		// The fleet file loads without its key (regularFile): an unsigned
		// push would only fill the cache with paths every target refuses.
		if _, err := os.Stat(c.SignKey); err != nil {
			sum.EventBase, sum.Cache, sum.Done = o.base(""), cache, true
			sum.Err = fmt.Errorf("the fleet file's sign_key cannot be read here (%w): nothing pushed", errors.Unwrap(err))
			o.s.emit(sum)
			return
		}
	}
	report := func(p nix.PushProgress, base CachePushEvent) {
		o.s.emit(CachePushEvent{EventBase: o.base(""), Cache: cache, Paths: base.Paths + p.Paths,
			PathsTotal: base.PathsTotal + p.PathsTotal, Bytes: base.Bytes + p.Bytes})
	}
	for _, w := range order {
		base := sum
		req := nix.PushRequest{To: c.Push, SignKey: c.SignKey, Paths: bySource[w],
			Progress: func(p nix.PushProgress) { report(p, base) }}
		p, err := o.pushFrom(ctx, w, req)
		sum.Paths, sum.PathsTotal, sum.Bytes = base.Paths+p.Paths, base.PathsTotal+p.PathsTotal, base.Bytes+p.Bytes
		if err != nil {
			sum.Err = err
			break
		}
	}
	sum.EventBase, sum.Cache, sum.Done = o.base(""), cache, true
	o.s.emit(sum)
}

// pushFrom pushes from the store w names: this machine's, or a builder's.
func (o *op) pushFrom(ctx context.Context, w string, req nix.PushRequest) (nix.PushProgress, error) {
	if w == BuildLocal {
		return nix.Push(ctx, o.local, req)
	}
	b := o.e.fleet.Builder(Settings{BuildOn: w}.BuilderName())
	if b == nil {
		return nix.PushProgress{}, fmt.Errorf("%s: no such builder", w)
	}
	r, err := o.e.conn.Runner(ctx, b.Node())
	if err != nil {
		return nix.PushProgress{}, err
	}
	ssh, err := nix.WriteSSHConfig(builderSSH(b, o.e.opts.SSH), "")
	if err != nil {
		return nix.PushProgress{}, err
	}
	defer ssh.Close()
	req.From, req.Source = ssh, commandRunner{r: r, op: o, builder: w}
	p, err := nix.Push(ctx, o.local, req)
	if err != nil {
		err = fmt.Errorf("%s: %w", w, err)
	}
	return p, err
}

// cacheName is a store URI as events show it: without its query.
func cacheName(uri string) string {
	name, _, _ := strings.Cut(uri, "?")
	return name
}
