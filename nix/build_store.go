package nix

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	tailpkg "nixdeck/internal/tail"
)

// A build on a builder (build_on: builder:NAME) evaluates here and builds
// there through Nix's remote store, ssh-ng://: the derivations' closure
// goes over with `nix copy --derivation`, then `nix-store --store URI
// --realise` has the builder's Nix build them; the outputs stay in the
// builder's store. Nix's other remote-build machinery, --builders, copies
// every output back into the operator's store when the build is done,
// which the operator does not want (its disk, its link); see BENCHMARKS.md
// for both measured. Nix 2.8's `nix copy` takes a .drv argument to mean
// its outputs (it would build them here), hence --derivation.

// StoreBuild is one build on a builder.
type StoreBuild struct {
	// Builder names the builder in errors and logs ("builder:big").
	Builder string
	// SSH is the ssh_config session that reaches it (WriteSSHConfig).
	SSH *SSHSession
	// Drvs maps each node to its derivation (Instantiate); nodes that
	// share a derivation share its build.
	Drvs map[string]Derivation
	// MaxJobs is the builder's max_jobs (Nix's --max-jobs); 0 leaves the
	// builder's own setting.
	MaxJobs int
	// Root, when set, is a GC root path (GCRootPath) the builder's outputs
	// get, through Runner, as Root-0, Root-1, … once built, so that its
	// collector leaves them until they are copied; BuildOnStore returns
	// the roots made, for RemoveRoot.
	Root string
	// Runner is nixdeck's own connection to the builder, for the roots.
	Runner Runner
	// Log receives Nix's output line by line; may be nil.
	Log func(string)
}

// StoreBuilt is what BuildOnStore built: node → system path on the
// builder, and the GC roots it made there.
type StoreBuilt struct {
	Systems map[string]string
	Roots   []string
}

// BuildOnStore builds b's derivations on the builder and returns each
// node's system path there. A node whose system failed gets a
// *BuildError of its own (see NodeErrors); the others keep theirs.
func BuildOnStore(ctx context.Context, local Runner, b StoreBuild) (StoreBuilt, error) {
	res := StoreBuilt{Systems: map[string]string{}}
	nodes := slices.Sorted(maps.Keys(b.Drvs))
	if len(nodes) == 0 {
		return res, nil
	}
	fail := func(phase string, ns []string, tail string, err error) (StoreBuilt, error) {
		return res, &BuildError{Nodes: ns, Phase: phase, Tail: tail, Err: fmt.Errorf("%s: %w", b.Builder, err)}
	}
	drvs, err := withOutPaths(ctx, local, b.Drvs, nodes)
	if err != nil {
		return fail("evaluate", nodes, "", err)
	}
	var distinct []string
	for _, n := range nodes {
		if d := drvs[n].DrvPath; !slices.Contains(distinct, d) {
			distinct = append(distinct, d)
		}
	}
	log, tail := logLines(b.Log)
	env := b.SSH.Env
	for _, chunk := range argChunks(distinct, maxArgBytes) {
		argv := NixCmd(append([]string{"copy", "--derivation", "--no-check-sigs", "--to", b.SSH.Store}, chunk...)...)
		err := local.Run(ctx, Cmd{Argv: argv, Stderr: log, Env: env})
		log.Flush()
		if err != nil {
			return fail("build", nodes, tail.String(), fmt.Errorf("send the derivations: %w", err))
		}
	}
	argv := []string{"nix-store", "--store", b.SSH.Store, "--realise", "--keep-going"}
	if b.MaxJobs > 0 {
		argv = append(argv, "--max-jobs", strconv.Itoa(b.MaxJobs))
	}
	out := tailpkg.NewBuffer(1 << 20)
	buildErr := local.Run(ctx, Cmd{Argv: append(argv, distinct...), Stdout: out, Stderr: log, Env: env})
	log.Flush()
	built := map[string]bool{}
	if buildErr == nil {
		for _, p := range strings.Fields(out.String()) {
			built[p] = true
		}
	} else if ctx.Err() == nil {
		// --keep-going built what it could: ask the builder which.
		if built, err = validOn(ctx, local, b.SSH, drvs, nodes); err != nil {
			return fail("build", nodes, tail.String(), buildErr)
		}
	}
	var failed []string
	for _, n := range nodes {
		if o := drvs[n].OutPath; built[o] {
			res.Systems[n] = o
		} else {
			failed = append(failed, n)
		}
	}
	// The roots come after the realise, and cannot come during it: with
	// a remote store (ssh-ng://) nix-store --realise ignores --add-root
	// (it roots only in a LocalFSStore, and only once buildPaths has
	// returned). While it runs, the builder's daemon session holds temp
	// roots on what it built; they go when the session closes, so a
	// garbage collection on the builder between the realise's exit and
	// rootOn's command (milliseconds, one SSH round trip) can delete the
	// outputs. The copy then fails naming the missing path, and a new
	// build makes them again: nothing wrong is deployed.
	if len(res.Systems) > 0 && b.Root != "" {
		if err := res.rootOn(ctx, b); err != nil {
			return fail("build", nodes, "", err)
		}
	}
	if len(failed) > 0 {
		if buildErr == nil {
			buildErr = fmt.Errorf("nix-store --realise printed %s, not the systems' paths", excerpt(out.String()))
		}
		_, err := fail("build", failed, tail.String(), buildErr)
		return res, err
	}
	return res, nil
}

// rootOn makes a GC root on the builder for each distinct system built.
func (res *StoreBuilt) rootOn(ctx context.Context, b StoreBuild) error {
	var paths []string
	for _, n := range slices.Sorted(maps.Keys(res.Systems)) {
		if p := res.Systems[n]; !slices.Contains(paths, p) {
			paths = append(paths, p)
		}
	}
	for i, p := range paths {
		root := b.Root + "-" + strconv.Itoa(i)
		if err := checkRoot(root); err != nil {
			return err
		}
		if err := makeRoot(ctx, b.Runner, root, p); err != nil {
			return err
		}
		res.Roots = append(res.Roots, root)
	}
	return nil
}

// withOutPaths fills in the output paths a classic evaluation leaves
// empty, from the derivations in this machine's store.
func withOutPaths(ctx context.Context, local Runner, drvs map[string]Derivation, nodes []string) (map[string]Derivation, error) {
	m := make(map[string]Derivation, len(drvs))
	for _, n := range nodes {
		d := drvs[n]
		if d.OutPath == "" {
			var out bytes.Buffer
			argv := []string{"nix-store", "--query", "--outputs", d.DrvPath}
			if err := local.Run(ctx, Cmd{Argv: argv, Stdout: &out}); err != nil {
				return nil, err
			}
			f := strings.Fields(out.String())
			if len(f) != 1 {
				return nil, fmt.Errorf("%s has %d outputs, a system has one", d.DrvPath, len(f))
			}
			d.OutPath = f[0]
		}
		if err := checkStoreObject(d.OutPath); err != nil {
			return nil, fmt.Errorf("output of %s: %s: %w", n, excerpt(d.OutPath), err)
		}
		m[n] = d
	}
	return m, nil
}

// validOn returns which of the nodes' outputs the builder's store holds.
func validOn(ctx context.Context, local Runner, s *SSHSession, drvs map[string]Derivation, nodes []string) (map[string]bool, error) {
	argv := []string{"nix-store", "--store", s.Store, "--check-validity", "--print-invalid"}
	var outs []string
	for _, n := range nodes {
		if o := drvs[n].OutPath; !slices.Contains(outs, o) {
			outs = append(outs, o)
		}
	}
	out := tailpkg.NewBuffer(1 << 20)
	if err := local.Run(ctx, Cmd{Argv: append(argv, outs...), Stdout: out, Env: s.Env}); err != nil {
		return nil, err
	}
	invalid := strings.Fields(out.String())
	valid := map[string]bool{}
	for _, o := range outs {
		if !slices.Contains(invalid, o) {
			valid[o] = true
		}
	}
	return valid, nil
}

// logLines is BuildRequest.logWriter for a log function alone.
func logLines(fn func(string)) (*Lines, *lineTail) {
	return BuildRequest{Log: fn}.logWriter()
}
