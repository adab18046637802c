package nix

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// CopyTarget is one host that CopyMany copies to.
type CopyTarget struct {
	// Runner runs commands on the host (its SSH connection).
	Runner Runner
	// Progress, when set, is called as this host's transfer advances
	// (throttled) and once at the end.
	Progress func(CopyProgress)
	// Substitute lets this host fetch what it can from its own binary
	// caches first, as CopyRequest.Substitute does for every host.
	Substitute bool
	// Root, when set, replaces CopyRequest.Root for this host.
	Root string
}

// CopyOutcome is what CopyMany did for one target: its result, or why it
// failed (the result then says how far it got).
type CopyOutcome struct {
	CopyResult
	Err error
}

// serveWriteArgv serves a host's store for writing: adding paths can put
// any content in the store, so it is root-equivalent and runs privileged.
var serveWriteArgv = []string{"nix-store", "--serve", "--write"}

// CopyMany sends the closures of req.Paths from local to every target
// (req.Progress is not used: each target has its own). This machine's
// part is done once: `nix-store --query --requisites` and
// `nix-store --dump-db` for all hosts, and one `nix-store --serve` that
// reads the paths for each set of hosts that lack exactly the same paths,
// streamed to all of them at once (see fanout). Each host runs one
// `nix-store --serve --write` (see serve.go): it says which paths it has,
// holding them against its garbage collector meanwhile, substitutes
// first when asked, then adds the paths it lacks.
//
// Hosts fail alone: a host whose check or import fails, or whose
// connection drops mid-stream, leaves the shared stream, and its outcome
// carries the error; the others go on. Outcomes are in the order of
// targets.
func CopyMany(ctx context.Context, local Runner, targets []CopyTarget, req CopyRequest) []CopyOutcome {
	out := make([]CopyOutcome, len(targets))
	roots, err := copyRoots(targets, req)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	closure, err := Requisites(ctx, local, req.Paths)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	// The paths' records are asked for while the hosts are checked: the
	// local command then costs no time of its own.
	type infosResult struct {
		infos []PathInfo
		err   error
	}
	infosc := make(chan infosResult, 1)
	go func() {
		infos, err := PathInfos(ctx, local, closure)
		infosc <- infosResult{infos, err}
	}()
	sessions := make([]*serveSession, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		out[i].Closure = len(closure)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := startServe(ctx, t.Runner, serveWriteArgv, true, 0)
			sessions[i] = s
			o := &out[i]
			o.Missing, o.Substituted, o.Err = lacking(s, closure, req.Substitute || t.Substitute)
			if o.Err == nil && len(o.Missing) == 0 {
				o.Err = s.closeRooted(ctx, t.Runner, roots[i], req.Paths)
			}
		}()
	}
	wg.Wait()
	ir := <-infosc
	for i, o := range out {
		if o.Err == nil && len(o.Missing) == 0 && targets[i].Progress != nil {
			targets[i].Progress(CopyProgress{})
		}
	}
	byPath := make(map[string]PathInfo, len(ir.infos))
	for _, info := range ir.infos {
		byPath[info.Path] = info
	}
	for _, g := range groupByMissing(out) {
		if ir.err != nil {
			for _, i := range g {
				sessions[i].abort()
				out[i].Err = ir.err
			}
			continue
		}
		infos := make([]PathInfo, len(out[g[0]].Missing))
		for k, p := range out[g[0]].Missing {
			infos[k] = byPath[p]
		}
		members := make([]*member, len(g))
		for k, i := range g {
			members[k] = &member{s: sessions[i], c: newCounter(infos, targets[i].Progress)}
			if roots[i] != "" {
				r, root := targets[i].Runner, roots[i]
				members[k].root = func() error { return makeRoot(ctx, r, root, req.Paths[0]) }
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sendGroup(ctx, local, members, infos)
			for k, i := range g {
				out[i].Bytes, out[i].Err = members[k].c.sent(), members[k].err
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		// However each host's part ended, the cancellation ended it.
		for i, o := range out {
			if o.Err != nil && !errors.Is(o.Err, err) {
				out[i].Err = fmt.Errorf("%w (%v)", err, o.Err)
			}
		}
	}
	return out
}

// copyRoots returns each target's GC root ("" for none), checked.
func copyRoots(targets []CopyTarget, req CopyRequest) ([]string, error) {
	roots := make([]string, len(targets))
	for i, t := range targets {
		roots[i] = cmp.Or(t.Root, req.Root)
		if roots[i] == "" {
			continue
		}
		if len(req.Paths) == 0 {
			return nil, errors.New("a GC root needs a path to root")
		}
		if err := checkRoot(roots[i]); err != nil {
			return nil, err
		}
	}
	return roots, nil
}

// closeRooted makes root (when set) a GC root of paths[0] while the
// session still holds the closure against the host's garbage collector,
// then ends the session.
func (s *serveSession) closeRooted(ctx context.Context, r Runner, root string, paths []string) error {
	if root != "" {
		if err := makeRoot(ctx, r, root, paths[0]); err != nil {
			s.abort()
			return err
		}
	}
	return s.close()
}

// lacking returns the paths of closure that the host lacks (after
// substituting what it can, when substitute), and how many it substituted.
func lacking(s *serveSession, closure []string, substitute bool) ([]string, int, error) {
	missing, err := s.handshakeAndCheck(closure)
	if err != nil || !substitute || len(missing) == 0 {
		return missing, 0, err
	}
	still, err := s.invalid(missing, true, true)
	if err != nil {
		return missing, 0, fmt.Errorf("substitute on destination: %w", err)
	}
	return still, len(missing) - len(still), nil
}

// handshakeAndCheck greets the host and asks which paths it lacks,
// holding those it has against its garbage collector.
func (s *serveSession) handshakeAndCheck(paths []string) ([]string, error) {
	err := s.handshake()
	var missing []string
	if err == nil {
		missing, err = s.invalid(paths, true, false)
	}
	if err != nil {
		return nil, fmt.Errorf("check which paths the host lacks: %w", err)
	}
	return missing, nil
}

// groupByMissing returns the indexes of the outcomes that still need
// paths, grouped by identical missing lists, in order of first appearance.
func groupByMissing(out []CopyOutcome) [][]int {
	var groups [][]int
	byKey := map[string]int{}
	for i, o := range out {
		if o.Err != nil || len(o.Missing) == 0 {
			continue
		}
		key := strings.Join(o.Missing, "\n")
		g, ok := byKey[key]
		if !ok {
			g = len(groups)
			byKey[key] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}
