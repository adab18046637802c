package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"nixdeck/fleet/remote"
	"nixdeck/nix"
)

// Each node's build_on says where its system is built, and so which store
// holds it afterwards (BuiltEvent.Where, and the source its copy is sent
// from, see source.go):
//   - local: this machine, as always (build.go).
//   - target: evaluated here, the derivations copied to the node, built
//     there (nix.BuildOnTarget); production hosts then compile, which is
//     what a builder is for, but a fleet without one may want it.
//   - builder:NAME: evaluated here, built on the builder through Nix's
//     ssh-ng:// store (nix.BuildOnStore), one build per builder for all
//     its nodes, its max_jobs as Nix's --max-jobs. The outputs stay in the
//     builder's store, rooted against its collector until the Engine
//     closes; this machine's store gets the .drv files only.
// The groups build side by side.

// buildWhere is build for nodes that do not all build here.
func (o *op) buildWhere(ctx context.Context, nodes []*Node, rootDir string) (map[string]string, map[string]error, error) {
	var order []string
	groups := map[string][]*Node{}
	for _, n := range nodes {
		w := where(n)
		if groups[w] == nil {
			order = append(order, w)
		}
		groups[w] = append(groups[w], n)
	}
	var (
		mu     sync.Mutex
		built  = map[string]string{}
		failed = map[string]error{}
		errs   []error
		wg     sync.WaitGroup
	)
	for _, w := range order {
		ns := groups[w]
		wg.Go(func() {
			var b map[string]string
			var f map[string]error
			var err error
			switch w {
			case BuildLocal:
				b, f, err = o.buildLocal(ctx, ns, rootDir)
			case BuildTarget:
				b, f = o.buildOnTargets(ctx, ns)
			default:
				b, f = o.buildOnBuilder(ctx, w, ns)
			}
			mu.Lock()
			defer mu.Unlock()
			for n, p := range b {
				built[n] = p
			}
			for n, e := range f {
				failed[n] = e
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(built) > 0 || len(errs) < len(order) {
		return built, failed, nil
	}
	return built, failed, errors.Join(errs...)
}

// where is the node's build_on, "local" when unset.
func where(n *Node) string {
	if n.BuildOn == "" {
		return BuildLocal
	}
	return n.BuildOn
}

// instantiate evaluates the nodes' systems here, reporting PhaseBuilding
// for each; failed holds the nodes that did not evaluate.
func (o *op) instantiate(ctx context.Context, nodes []*Node) (map[string]nix.Derivation, map[string]error) {
	attrs := make(map[string]string, len(nodes))
	for _, n := range nodes {
		attrs[n.Name] = n.AttrPath()
		o.host(n).Phase(PhaseBuilding)
	}
	req, err := o.e.fleet.BuildRequest(attrs, "")
	var drvs map[string]nix.Derivation
	if err == nil {
		drvs, err = nix.Instantiate(ctx, o.local, req)
	}
	failed := map[string]error{}
	if err != nil {
		own := nix.NodeErrors(err)
		for _, n := range nodes {
			failed[n.Name] = buildFailure(n.Name, own[n.Name], err)
		}
	}
	return drvs, failed
}

// buildOnTargets builds each node's system on the node itself,
// deploy.parallel at a time.
func (o *op) buildOnTargets(ctx context.Context, nodes []*Node) (map[string]string, map[string]error) {
	drvs, failed := o.instantiate(ctx, nodes)
	built := map[string]string{}
	if len(failed) > 0 {
		return built, failed
	}
	var mu sync.Mutex
	slots := make(chan struct{}, o.e.parallel())
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			var p string
			var err error
			if acquire(ctx, slots) {
				defer func() { <-slots }()
				h := o.host(n)
				if err = h.connect(ctx); err == nil {
					h.Phase(PhaseBuilding)
					p, err = nix.BuildOnTarget(ctx, h.Local, h.Runner, drvs[n.Name].DrvPath, h.Log("build"))
				}
			} else {
				err = ctx.Err()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[n.Name] = &HostError{Host: n.Name, Step: "build", Err: err}
				return
			}
			built[n.Name] = p
			o.s.emit(BuiltEvent{EventBase: o.base(n.Name), System: p, Where: BuildTarget})
		})
	}
	wg.Wait()
	return built, failed
}

// buildOnBuilder builds the nodes' systems on the builder build_on names.
func (o *op) buildOnBuilder(ctx context.Context, w string, nodes []*Node) (map[string]string, map[string]error) {
	built, failed := map[string]string{}, map[string]error{}
	failAll := func(err error) (map[string]string, map[string]error) {
		for _, n := range nodes {
			if failed[n.Name] == nil {
				failed[n.Name] = &HostError{Host: n.Name, Step: "build", Err: err}
			}
		}
		return built, failed
	}
	name := Settings{BuildOn: w}.BuilderName()
	b := o.e.fleet.Builder(name)
	if b == nil {
		return failAll(fmt.Errorf("no builder named %q in the fleet file", name))
	}
	drvs, failed := o.instantiate(ctx, nodes)
	if len(failed) > 0 {
		return built, failed
	}
	// A node of a system type the builder does not build fails here,
	// before anything is copied to it; the others build.
	if err := o.checkSystems(ctx, b, drvs, failed); err != nil {
		return failAll(err)
	}
	if len(failed) == len(nodes) {
		return built, failed
	}
	// nixdeck's own connection first: it holds the outputs' roots and
	// later sends them on; a builder it cannot reach builds nothing.
	r, err := o.e.conn.Runner(ctx, b.Node())
	if err != nil {
		return failAll(err)
	}
	runner := commandRunner{r: r, op: o, builder: w}
	ssh, err := nix.WriteSSHConfig(builderSSH(b, o.e.opts.SSH), "")
	if err != nil {
		return failAll(err)
	}
	defer ssh.Close()
	root, err := nix.GCRootPath(o.id + "-" + name)
	if err != nil {
		return failAll(err)
	}
	res, err := nix.BuildOnStore(ctx, o.local, nix.StoreBuild{Builder: w, SSH: ssh, Drvs: drvs, MaxJobs: b.MaxJobs,
		Root: root, Runner: runner,
		Log: func(line string) { o.s.emit(LogEvent{EventBase: o.base(""), Source: "build", Line: line}) }})
	o.e.keepRoots(b.Node(), res.Roots)
	own := nix.NodeErrors(err)
	for _, n := range nodes {
		if failed[n.Name] != nil {
			continue
		}
		if p, ok := res.Systems[n.Name]; ok {
			built[n.Name] = p
			o.s.emit(BuiltEvent{EventBase: o.base(n.Name), System: p, Where: w})
			continue
		}
		failed[n.Name] = buildFailure(n.Name, own[n.Name], err)
	}
	return built, failed
}

// checkSystems reads the system type of each derivation in drvs (node →
// derivation) and fails, in failed, the nodes whose type b does not
// build, dropping them from drvs; an error is the read's own.
func (o *op) checkSystems(ctx context.Context, b *Builder, drvs map[string]nix.Derivation, failed map[string]error) error {
	var paths []string
	for _, d := range drvs {
		if !slices.Contains(paths, d.DrvPath) {
			paths = append(paths, d.DrvPath)
		}
	}
	slices.Sort(paths)
	types, err := nix.DrvSystems(ctx, o.local, paths)
	if err != nil {
		return err
	}
	for n, d := range drvs {
		if t := types[d.DrvPath]; !slices.Contains(b.Systems, t) {
			failed[n] = &HostError{Host: n, Step: "build", Err: fmt.Errorf("its system is %s, which builder %s does not build (its systems: %s)",
				t, b.Name, strings.Join(b.Systems, ", "))}
			delete(drvs, n)
		}
	}
	return nil
}

// builderSSH is how Nix's ssh reaches b: the fleet file's connection
// keys, then the ssh_config nixdeck's own SSH reads.
func builderSSH(b *Builder, o remote.Options) nix.SSHHost {
	h := nix.SSHHost{Name: BuildBuilderPrefix + b.Name, Host: b.Host, Port: b.Port, User: b.User, Identity: b.Identity,
		KnownHosts: b.KnownHosts, Jump: b.Jump, Include: sshInclude(o)}
	if h.KnownHosts == "" {
		// The file nixdeck's own SSH checks (and `nixdeck trust` fills),
		// whatever the operator's ssh_config says for ssh.
		if home, err := remote.HomeDir(); err == nil {
			h.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
		}
	}
	return h
}

// sshInclude is the ssh_config nixdeck's own SSH reads, for Nix's ssh to
// read too: "" when there is none.
func sshInclude(o remote.Options) string {
	switch o.SSHConfigPath {
	case "none":
		return ""
	case "":
		home, err := remote.HomeDir()
		if err != nil {
			return ""
		}
		p := filepath.Join(home, ".ssh", "config")
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	p, err := filepath.Abs(o.SSHConfigPath)
	if err != nil {
		return ""
	}
	return p
}
