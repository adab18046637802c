package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// BuildRequest says what to build for which nodes.
type BuildRequest struct {
	// Flake is a flake reference ("git+file:///srv/infra?dir=fleet",
	// "github:org/repo"; FlakeRef makes one of a local directory, with
	// WorkDir); exactly one of Flake and File is set.
	Flake string
	// File is a classic Nix file built with nix-build.
	File string
	// Attrs maps a node name to the attribute that builds its system;
	// several nodes may share one attribute (built once).
	Attrs map[string]string
	// WorkDir, when set, is the local directory every command of the
	// build runs in; Flake (and a relative File or RootDir) is then
	// relative to it. FlakeRef returns it with the reference (Flake.Dir)
	// when the local Nix cannot read the directory's absolute URL. Remote
	// runners refuse it.
	WorkDir string
	// RootDir, when set, is a directory on the builder's side where Nix
	// creates a gc root for every built system (result, result-1, …), so a
	// garbage collection cannot delete them while the operation runs. The
	// caller removes the directory when done. Empty means no roots.
	RootDir string
	// Log receives Nix's output line by line (stderr: progress and build
	// logs). One build serves all nodes, so the log is shared. May be nil.
	Log func(line string)

	// linkName names the out-links in RootDir ("result" when empty):
	// builds of single attributes after a failure each get their own.
	linkName string
}

// order returns the node names sorted and the distinct attributes in the
// order of their first node, so argv is deterministic.
func (q BuildRequest) order() (nodes, attrs []string) {
	for n := range q.Attrs {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		if a := q.Attrs[n]; !slices.Contains(attrs, a) {
			attrs = append(attrs, a)
		}
	}
	return nodes, attrs
}

// BuildError reports a failed evaluation or build: which nodes did not get
// a system, and the last lines Nix printed. Build may return several,
// joined (errors.Join): NodeErrors tells each node its own.
type BuildError struct {
	// Nodes are the nodes left without a system.
	Nodes []string
	// Phase is "evaluate" or "build".
	Phase string
	// Tail holds the last lines of Nix's output.
	Tail string
	// Err is the underlying command error.
	Err error
}

// Error names the step and the nodes, then what went wrong (Cause).
func (e *BuildError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Phase, strings.Join(e.Nodes, ", "), e.Cause())
}

// Unwrap returns the failed command's error.
func (e *BuildError) Unwrap() error { return e.Err }

// Cause says what went wrong without naming the nodes: Nix's own error
// message (from its first "error:" line on, that prefix dropped), else
// the last lines Nix printed, else how the command ended. The command line
// is left out: it is long and says nothing the step does not.
func (e *BuildError) Cause() string {
	if i := strings.Index(e.Tail, "error: "); i >= 0 && (i == 0 || e.Tail[i-1] == '\n') {
		return strings.TrimSpace(e.Tail[i+len("error: "):])
	}
	if t := strings.TrimSpace(e.Tail); t != "" {
		return t
	}
	var ee *ExitError
	switch {
	case errors.As(e.Err, &ee) && ee.Signal != "":
		return fmt.Sprintf("%s killed by signal %s", ee.Argv[0], ee.Signal)
	case errors.As(e.Err, &ee):
		return fmt.Sprintf("%s exited with status %d", ee.Argv[0], ee.Code)
	case e.Err != nil:
		return e.Err.Error()
	}
	return "failed"
}

// NodeErrors spreads an error from Build over the nodes it names: each
// failed node gets the *BuildError of its own evaluation or build.
func NodeErrors(err error) map[string]*BuildError {
	m := map[string]*BuildError{}
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *BuildError:
			for _, n := range e.Nodes {
				m[n] = e
			}
		case interface{ Unwrap() []error }:
			for _, err := range e.Unwrap() {
				walk(err)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return m
}

// Build builds the systems of req with ONE Nix invocation (Nix builds them in
// parallel and shares common dependencies) and returns node → system store
// path. Flakes: `nix build --json` (plus one `nix eval` first when nodes use
// different attributes, to map results back); classic: `nix-build -A …`.
// With --keep-going, a failure in one node's system still builds the
// others: the map then holds the nodes that succeeded and the error is a
// *BuildError naming the ones that did not. When nothing at all came out of
// a build of several attributes (one of them does not evaluate, or the
// classic nix-build failed), each attribute is built alone, so one bad
// node does not take the others down; each failure then has its own
// *BuildError (see NodeErrors).
func Build(ctx context.Context, r Runner, req BuildRequest) (map[string]string, error) {
	if (req.Flake == "") == (req.File == "") {
		return nil, errors.New("build: exactly one of flake and file must be set")
	}
	if len(req.Attrs) == 0 {
		return map[string]string{}, nil
	}
	m, err := buildTogether(ctx, r, req)
	if _, attrs := req.order(); err == nil || len(m) > 0 || len(attrs) < 2 || ctx.Err() != nil {
		return m, err
	}
	return buildEach(ctx, r, req)
}

func buildTogether(ctx context.Context, r Runner, req BuildRequest) (map[string]string, error) {
	if req.File != "" {
		return buildClassic(ctx, r, req)
	}
	return buildFlake(ctx, r, req)
}

// linkArgs returns the out-link flags: roots in RootDir, or none.
func (q BuildRequest) linkArgs(noLink string) []string {
	if q.RootDir == "" {
		return []string{noLink}
	}
	name := q.linkName
	if name == "" {
		name = "result"
	}
	return []string{"--out-link", filepath.Join(q.RootDir, name)}
}

func buildFlake(ctx context.Context, r Runner, req BuildRequest) (map[string]string, error) {
	nodes, attrs := req.order()
	var drvs map[string]Derivation
	if len(attrs) > 1 {
		var err error
		if drvs, err = Instantiate(ctx, r, req); err != nil {
			return nil, err
		}
	}
	argv := NixCmd("build", "--json", "--keep-going", "-L")
	argv = append(argv, req.linkArgs("--no-link")...)
	for _, a := range attrs {
		argv = append(argv, installable(req.Flake, a))
	}
	var out bytes.Buffer
	log, tail := req.logWriter()
	err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out, Stderr: log, Dir: req.WorkDir})
	log.Flush()
	if err != nil {
		if drvs == nil {
			return nil, &BuildError{Nodes: nodes, Phase: "build", Tail: tail.String(), Err: err}
		}
		return builtSubset(ctx, r, req, drvs, tail, err)
	}
	var results []struct {
		DrvPath string            `json:"drvPath"`
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(out.Bytes(), &results); err != nil || len(results) == 0 {
		return nil, fmt.Errorf("build %s: cannot parse nix build --json output %q", strings.Join(nodes, ", "), out.String())
	}
	m := make(map[string]string, len(nodes))
	for _, n := range nodes {
		for _, res := range results {
			if drvs == nil || res.DrvPath == drvs[n].DrvPath {
				m[n] = res.Outputs["out"]
				break
			}
		}
		if m[n] == "" {
			return nil, fmt.Errorf("build %s: no output for %s in %q", n, req.Attrs[n], out.String())
		}
	}
	return m, nil
}

// builtSubset sorts out, after a failed build, which nodes' systems exist
// anyway (--keep-going built them) by asking the store about their outputs.
// Nix makes no out-links when the build fails, so the survivors get their
// gc roots here.
func builtSubset(ctx context.Context, r Runner, req BuildRequest, drvs map[string]Derivation, tail *lineTail, buildErr error) (map[string]string, error) {
	nodes, _ := req.order()
	argv := []string{"nix-store", "--check-validity", "--print-invalid"}
	for _, n := range nodes {
		argv = append(argv, drvs[n].OutPath)
	}
	var out bytes.Buffer
	if err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out, Dir: req.WorkDir}); err != nil {
		return nil, &BuildError{Nodes: nodes, Phase: "build", Tail: tail.String(), Err: buildErr}
	}
	invalid := strings.Fields(out.String())
	m := map[string]string{}
	var failed []string
	for _, n := range nodes {
		if slices.Contains(invalid, drvs[n].OutPath) {
			failed = append(failed, n)
		} else {
			m[n] = drvs[n].OutPath
		}
	}
	if len(failed) == 0 {
		failed = nodes // the build failed but every system exists: trust the failure
		m = nil
	}
	if len(m) > 0 && req.RootDir != "" {
		argv := []string{"nix-store", "--realise"}
		for _, n := range nodes {
			if p := m[n]; p != "" && !slices.Contains(argv, p) {
				argv = append(argv, p)
			}
		}
		argv = append(argv, "--add-root", filepath.Join(req.RootDir, "partial"))
		if err := r.Run(ctx, Cmd{Argv: argv, Dir: req.WorkDir}); err != nil {
			return nil, fmt.Errorf("build: gc roots for %s: %w", strings.Join(slices.Sorted(maps.Keys(m)), ", "), err)
		}
	}
	return m, &BuildError{Nodes: failed, Phase: "build", Tail: tail.String(), Err: buildErr}
}

// buildClassic runs one nix-build with an -A per distinct attribute; it
// prints the results in -A order (one line each: a system has one output).
func buildClassic(ctx context.Context, r Runner, req BuildRequest) (map[string]string, error) {
	nodes, attrs := req.order()
	argv := []string{"nix-build", req.File}
	for _, a := range attrs {
		argv = append(argv, "-A", a)
	}
	argv = append(argv, req.linkArgs("--no-out-link")...)
	var out bytes.Buffer
	log, tail := req.logWriter()
	err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out, Stderr: log, Dir: req.WorkDir})
	log.Flush()
	if err != nil {
		return nil, &BuildError{Nodes: nodes, Phase: "build", Tail: tail.String(), Err: err}
	}
	paths := strings.Fields(out.String())
	if len(paths) != len(attrs) {
		return nil, fmt.Errorf("build %s: nix-build printed %d paths for %d attributes: %q", strings.Join(nodes, ", "), len(paths), len(attrs), out.String())
	}
	m := make(map[string]string, len(nodes))
	for _, n := range nodes {
		m[n] = paths[slices.Index(attrs, req.Attrs[n])]
	}
	return m, nil
}

// logWriter returns the stderr writer for a build: lines go to req.Log and
// the last ones are kept for the error message.
func (q BuildRequest) logWriter() (*Lines, *lineTail) {
	tail := &lineTail{max: 25}
	return LineWriter(func(line string) {
		tail.add(line)
		if q.Log != nil {
			q.Log(line)
		}
	}), tail
}
