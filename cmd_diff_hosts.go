package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/nix"
)

// maxDiffHosts bounds how many hosts are queried at once.
const maxDiffHosts = 16

// hostDiffTimeout bounds the work on one host (connect, read its system,
// the closure query, --files): a few round trips that take seconds even
// for large closures, so a host still busy after this is stuck.
const hostDiffTimeout = 3 * time.Minute

// runHosts builds the selected nodes' systems and diffs each host's
// running system against its new one.
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
	// them after the hosts answered, which may be minutes later.
	rootDir, err := os.MkdirTemp("", "nixdeck-diff-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(rootDir)
	built, buildErr := buildSystems(ctx, f, nodes, rootDir)
	if buildErr != nil && len(built) == 0 {
		return buildErr
	}
	newClosures, err := localClosures(ctx, built, c.NoDB)
	if err != nil {
		return err
	}

	conn := c.conn
	if conn == nil {
		pool := remote.NewPool(remote.Options{})
		defer pool.Close()
		conn = fleet.PoolConnector{Pool: pool}
	}
	cache := &nix.ClosureCache{}
	results := make([]*nix.HostDiff, len(nodes))
	sem := make(chan struct{}, maxDiffHosts)
	var wg sync.WaitGroup
	for i, n := range nodes {
		newPath, ok := built[n.Name]
		if !ok {
			results[i] = &nix.HostDiff{Host: n.Name, Error: fmt.Sprintf("build failed: %v", buildErr)}
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			hd, err := c.diffHost(ctx, conn, cache, n, newClosures[newPath])
			if err != nil {
				hd = &nix.HostDiff{Host: n.Name, New: newPath, Error: err.Error()}
			}
			results[i] = hd
		})
	}
	wg.Wait()
	return c.report(w, results)
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
	flake := f.Flake
	if strings.HasPrefix(flake, "/") {
		flake = "path:" + flake
	}
	req := nix.BuildRequest{Flake: flake, File: f.File, Attrs: attrs, RootDir: rootDir,
		Log: func(line string) { fmt.Fprintln(os.Stderr, line) }}
	return nix.Build(ctx, nix.LocalRunner{}, req)
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

// report prints the host diffs in fleet order; any failed host makes the
// command fail after everything was printed.
func (c *diffCmd) report(w io.Writer, results []*nix.HostDiff) error {
	failed := 0
	for _, r := range results {
		if r.Error != "" {
			failed++
		}
	}
	if c.JSON {
		if err := writeJSON(w, results); err != nil {
			return err
		}
	} else {
		st := nix.StylesFor(w)
		for i, r := range results {
			if i > 0 {
				fmt.Fprintln(w)
			}
			if err := renderHost(w, r, st); err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("diff: %d of %d hosts failed", failed, len(results))
	}
	return nil
}

func renderHost(w io.Writer, r *nix.HostDiff, st *nix.DiffStyles) error {
	fmt.Fprintf(w, "=== %s ===\n", r.Host)
	if r.Error != "" {
		_, err := fmt.Fprintf(w, "error: %s\n", r.Error)
		return err
	}
	if err := r.Diff.Render(w, st); err != nil {
		return err
	}
	if r.RebootNeeded() {
		fmt.Fprintf(w, "Reboot needed: %s changed since boot.\n", strings.Join(r.RebootFor, ", "))
	}
	return renderFiles(w, r.Files, st)
}
