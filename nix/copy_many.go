package nix

import (
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
}

// CopyOutcome is what CopyMany did for one target: its result, or why it
// failed (the result then says how far it got).
type CopyOutcome struct {
	CopyResult
	Err error
}

// CopyMany sends the closures of req.Paths from local to every target
// (req.Progress is not used; each target has its own). This machine's
// part is done once: one `nix-store --query --requisites` and one
// `nix-store --dump-db` for all hosts, and one `nix-store --export` for
// each set of hosts that lack exactly the same paths, streamed to all of
// them at once (see fanout). Each host gets one round trip that finds
// what it lacks (after substitution when req.Substitute), then one
// privileged `nix-store --import`.
//
// Hosts fail alone: a host whose check or import fails, or whose
// connection drops mid-stream, leaves the shared stream, and its outcome
// carries the error; the others go on. Outcomes are in the order of
// targets.
func CopyMany(ctx context.Context, local Runner, targets []CopyTarget, req CopyRequest) []CopyOutcome {
	out := make([]CopyOutcome, len(targets))
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
	var wg sync.WaitGroup
	for i, t := range targets {
		out[i].Closure = len(closure)
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &out[i]
			o.Missing, o.Substituted, o.Err = lacking(ctx, t.Runner, closure, req.Substitute)
		}()
	}
	wg.Wait()
	ir := <-infosc
	groups := groupByMissing(out)
	for i, o := range out {
		if o.Err == nil && len(o.Missing) == 0 && targets[i].Progress != nil {
			targets[i].Progress(CopyProgress{})
		}
	}
	if ir.err != nil {
		for _, g := range groups {
			for _, i := range g {
				out[i].Err = ir.err
			}
		}
		return out
	}
	byPath := make(map[string]PathInfo, len(ir.infos))
	for _, info := range ir.infos {
		byPath[info.Path] = info
	}
	for _, g := range groups {
		infos := make([]PathInfo, len(out[g[0]].Missing))
		for k, p := range out[g[0]].Missing {
			infos[k] = byPath[p]
		}
		members := make([]*member, len(g))
		for k, i := range g {
			members[k] = &member{runner: targets[i].Runner, c: newCounter(infos, targets[i].Progress)}
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
	return out
}

// lacking returns the paths of closure that r's store lacks (after
// substituting what it can, when substitute), and how many it substituted.
func lacking(ctx context.Context, r Runner, closure []string, substitute bool) ([]string, int, error) {
	missing, err := Invalid(ctx, r, closure)
	if err != nil || !substitute || len(missing) == 0 {
		return missing, 0, err
	}
	err = r.Run(ctx, Cmd{Argv: []string{"sh", "-c", substituteScript}, Stdin: pathLines(missing), Privileged: true})
	var ee *ExitError
	if err != nil && !errors.As(err, &ee) { // only Nix's own failure is tolerated
		return missing, 0, fmt.Errorf("substitute on destination: %w", err)
	}
	before := len(missing)
	if missing, err = Invalid(ctx, r, missing); err != nil {
		return missing, 0, err
	}
	return missing, before - len(missing), nil
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
