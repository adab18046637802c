package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// maxDiffHosts bounds how many hosts are queried at once.
const maxDiffHosts = 16

// hostDiffTimeout bounds the work on one host (connect, read its system,
// the closure query, --files): a few round trips that take seconds even
// for large closures, so a host still busy after this is stuck.
const hostDiffTimeout = 3 * time.Minute

// runHosts builds the selected nodes' systems and diffs each host's
// running system against its new one. Every node gets a row: its diff, its
// own error (a node whose build failed, a host that could not be read),
// or "interrupted" when Ctrl-C stopped its work; the rows print even then.
func (c *diffCmd) runHosts(ctx context.Context, g *globals, w io.Writer) error {
	f, err := loadFleet(g.File, os.Stderr)
	if err != nil {
		return err
	}
	nodes, err := f.Select(c.On)
	if err != nil {
		return exitCode(2, err)
	}
	if len(nodes) == 0 {
		return exitCode(2, fmt.Errorf("diff: --on %q selects no host", c.On))
	}
	// The new systems are gc roots until the command ends: --files reads
	// them after the hosts answered, which may be minutes later. The
	// directory goes on every way out, Ctrl-C and SIGTERM included (main
	// turns them into the cancellation of ctx, and this returns).
	rootDir, err := os.MkdirTemp("", "nixdeck-diff-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(rootDir)
	built, buildErr := buildSystems(ctx, f, nodes, rootDir)
	nodeErrs := nix.NodeErrors(buildErr)
	if len(built) == 0 && len(nodeErrs) == 0 && buildErr != nil && ctx.Err() == nil {
		return buildErr // not about any one node: Nix missing, a broken fleet
	}
	newClosures, closErr := localClosures(ctx, built, c.NoDB)
	if closErr != nil && ctx.Err() == nil {
		return closErr
	}

	conn := c.conn
	if conn == nil {
		pool := remote.NewPool(remote.Options{})
		defer pool.Close()
		conn = fleet.PoolConnector{Pool: pool}
	}
	cache := &nix.ClosureCache{}
	rows := make([]hostRow, len(nodes))
	sem := make(chan struct{}, maxDiffHosts)
	var wg sync.WaitGroup
	for i, n := range nodes {
		newPath, ok := built[n.Name]
		if !ok {
			rows[i] = buildFailedRow(n.Name, nodeErrs[n.Name], buildErr)
			continue
		}
		if newClosures[newPath] == nil { // interrupted while reading it
			rows[i] = errorRow(n.Name, newPath, closErr, errors.Is(ctx.Err(), context.Canceled))
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			hd, err := c.diffHost(ctx, conn, cache, n, newClosures[newPath])
			if err != nil {
				// Still working when the operation was cancelled: stopped,
				// whatever error the cancellation made its work end with.
				rows[i] = errorRow(n.Name, newPath, err, errors.Is(ctx.Err(), context.Canceled))
				return
			}
			rows[i] = hostRow{HostDiff: hd}
		})
	}
	wg.Wait()
	return c.report(w, rows)
}

// diffHost diffs one host: its current system comes from the cache when
// another host runs the same one.
func (c *diffCmd) diffHost(ctx context.Context, conn fleet.Connector, cache *nix.ClosureCache, n *fleet.Node, newC *nix.Closure) (*nix.HostDiff, error) {
	ctx, cancel := context.WithTimeout(ctx, hostDiffTimeout)
	defer cancel()
	r, err := conn.Runner(ctx, n)
	if err != nil {
		return nil, err
	}
	// The state says what runs and, for the reboot hint, what the host
	// booted: a host switched but not rebooted still needs the reboot.
	st, err := nix.QueryHostState(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	cur := st.Current
	if cur == "" {
		return nil, fmt.Errorf("%s: %s is missing or does not lead to a store object", n.Name, nix.CurrentSystemLink)
	}
	curC, err := cache.Get(ctx, r, cur)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	next, err := nix.LocalBootSpec(newC.Root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Name, err)
	}
	hd := nix.NewHostDiff(n.Name, curC, newC)
	hd.SetBoot(st.BootedSpec, next)
	if c.Files {
		hd.Files, err = nix.DiffEtc(ctx, nix.RemoteTree{Runner: r, Root: cur}, nix.LocalTree(newC.Root))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
	}
	return hd, nil
}

// buildSystems builds every selected node's system locally, once per
// distinct attribute, with gc roots in rootDir (which the caller removes
// when it is done with the systems).
func buildSystems(ctx context.Context, f *fleet.Fleet, nodes []*fleet.Node, rootDir string) (map[string]string, error) {
	attrs := make(map[string]string, len(nodes))
	for _, n := range nodes {
		attrs[n.Name] = n.AttrPath()
	}
	flake, err := flakeRef(f)
	if err != nil {
		return nil, err
	}
	req := nix.BuildRequest{Flake: flake.Ref, WorkDir: flake.Dir, File: f.File, Attrs: attrs, RootDir: rootDir,
		Log: func(line string) { fmt.Fprintln(os.Stderr, termtext.VisibleLines(line)) }}
	return nix.Build(ctx, nix.LocalRunner{}, req)
}

// flakeRef is the flake Nix is given for the fleet's flake (nix.FlakeRef:
// a git checkout as git+file, tracked files only; a directory to run Nix
// in when the local Nix cannot read its URL); zero for a fleet built from
// a file. Every nix call of the diff takes it from here.
func flakeRef(f *fleet.Fleet) (nix.Flake, error) {
	if f.Flake == "" {
		return nix.Flake{}, nil
	}
	return nix.FlakeRef(f.Flake)
}

// localClosures reads each distinct built system's closure once.
func localClosures(ctx context.Context, built map[string]string, noDB bool) (map[string]*nix.Closure, error) {
	lc := &nix.LocalClosures{NoDB: noDB}
	defer lc.Close()
	out := map[string]*nix.Closure{}
	for _, p := range built {
		if out[p] != nil {
			continue
		}
		c, err := lc.Query(ctx, p)
		if err != nil {
			return nil, err
		}
		out[p] = c
	}
	return out, nil
}
