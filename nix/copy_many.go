package nix

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
)

// CopyTarget is one host that CopyMany copies to.
type CopyTarget struct {
	// Runner runs commands on the host (its SSH connection).
	Runner Runner
	// Paths, when set, replaces CopyRequest.Paths for this host: each
	// host of one CopyMany may get a system of its own.
	Paths []string
	// Progress, when set, is called as this host's transfer advances
	// (throttled) and once at the end.
	Progress func(CopyProgress)
	// Substitute lets this host fetch what it can from its own binary
	// caches first, as CopyRequest.Substitute does for every host.
	Substitute bool
	// Root, when set, replaces CopyRequest.Root for this host.
	Root string
	// Rooting, when set, is called just before this host's GC root is
	// made (once its paths are all there).
	Rooting func()
	// CacheRequired, with Substitute, fails the host with a *CacheError
	// when its Nix reports a problem with its caches (see subst.go) and
	// it still lacks paths, instead of sending them from this machine.
	CacheRequired bool
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

// CopyMany sends the closures of each target's paths (its own Paths, or
// req.Paths) from local to every target (req.Progress is not used: each
// target has its own). This machine's part is done once:
// `nix-store --query --requisites` and `nix-store --dump-db` for all
// hosts, and one `nix-store --serve` that reads each path some host
// lacks once and streams it to all the hosts that lack it at once (see
// copy_plan.go, fanout). Each host runs one `nix-store --serve --write`
// (see serve.go): it says which paths of its closure it has, holding
// them against its garbage collector meanwhile, substitutes first when
// asked, then adds the paths it lacks.
//
// Hosts fail alone: a host whose check or import fails, or whose
// connection drops mid-stream, leaves the shared stream, and its outcome
// carries the error; the others go on. Outcomes are in the order of
// targets.
func CopyMany(ctx context.Context, local Runner, targets []CopyTarget, req CopyRequest) []CopyOutcome {
	out := make([]CopyOutcome, len(targets))
	failAll := func(err error) []CopyOutcome {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	roots, err := copyRoots(targets, req)
	if err != nil {
		return failAll(err)
	}
	// Each host's session is started and greeted while this machine
	// finds the closure: starting a process over SSH takes as long as
	// the query, and neither needs the other.
	sessions := make([]*serveSession, len(targets))
	logs := make([]*substLog, len(targets))
	greetings := make([]chan error, len(targets))
	for i, t := range targets {
		logs[i] = &substLog{}
		sessions[i] = startServe(ctx, t.Runner, serveWriteArgv, true, 0, logs[i])
		greetings[i] = make(chan error, 1)
		go func() { greetings[i] <- sessions[i].handshake() }()
	}
	plan, err := planCopy(ctx, local, targets, req)
	if err != nil {
		// Stopped, not waited for: a host may never answer its greeting.
		var stop sync.WaitGroup
		for i, s := range sessions {
			stop.Go(func() {
				s.abort()
				<-greetings[i]
			})
		}
		stop.Wait()
		return failAll(err)
	}
	// The paths' records are asked for while the hosts are checked: the
	// local command then costs no time of its own.
	var infos []PathInfo
	var infosErr error
	infosDone := make(chan struct{})
	go func() {
		defer close(infosDone)
		infos, infosErr = PathInfos(ctx, local, plan.closure)
	}()
	waitInfos := func() ([]PathInfo, error) {
		<-infosDone
		return infos, infosErr
	}
	src := &source{ctx: ctx, local: local}
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			s := sessions[i]
			substitute := req.Substitute || t.Substitute
			o := &out[i]
			o.Missing, o.Closure, o.FromCache, o.Err = lacking(s, plan, i, substitute, waitInfos, greeted(greetings[i]))
			if substitute {
				s, o.Err = afterSubstitute(ctx, s, t, logs[i], &o.CopyResult, o.Err, func(s *serveSession) ([]string, error) {
					missing, _, _, err := lacking(s, plan, i, false, waitInfos, s.handshake)
					return missing, err
				})
			}
			sessions[i] = s
			if o.Err == nil && len(o.Missing) == 0 {
				o.Err = s.closeRooted(ctx, t, roots[i], plan.roots[i])
			}
			if o.Err == nil && len(o.Missing) > 0 {
				src.start() // something will be sent
			}
		})
	}
	wg.Wait()
	<-infosDone
	for i, o := range out {
		if o.Err == nil && len(o.Missing) == 0 && targets[i].Progress != nil {
			targets[i].Progress(CopyProgress{})
		}
	}
	sendMissing(ctx, src, targets, roots, plan, out, sessions, infos, infosErr)
	// Every session has ended: all that the hosts said is in their logs.
	for i := range out {
		if (req.Substitute || targets[i].Substitute) && len(out[i].Missing) > 0 && out[i].CacheProblem == "" {
			out[i].CacheProblem, out[i].CacheDetail = logs[i].result()
		}
	}
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

// sendMissing sends the paths the hosts lack, in one stream (see
// sendGroup), and records how each host's part ended in out.
func sendMissing(ctx context.Context, src *source, targets []CopyTarget, roots []string, plan *copyPlan,
	out []CopyOutcome, sessions []*serveSession, infos []PathInfo, infosErr error) {
	var needy []int
	need := map[string]bool{}
	for i, o := range out {
		if o.Err != nil || len(o.Missing) == 0 {
			continue
		}
		if infosErr != nil {
			sessions[i].abort()
			out[i].Err = infosErr
			continue
		}
		needy = append(needy, i)
		for _, p := range o.Missing {
			need[p] = true
		}
	}
	if len(needy) == 0 {
		src.stop()
		return
	}
	var stream []PathInfo // what some host lacks, in dependency order
	byPath := make(map[string]PathInfo, len(need))
	for _, info := range infos {
		if need[info.Path] {
			stream = append(stream, info)
			byPath[info.Path] = info
		}
	}
	members := make([]*member, len(needy))
	for k, i := range needy {
		mine := make([]PathInfo, len(out[i].Missing))
		for j, p := range out[i].Missing {
			mine[j] = byPath[p]
		}
		m := &member{s: sessions[i], c: newCounter(mine, targets[i].Progress)}
		if len(mine) < len(stream) {
			m.need = make(map[string]bool, len(mine))
			for _, p := range out[i].Missing {
				m.need[p] = true
			}
		}
		if roots[i] != "" {
			t, root, path := targets[i], roots[i], plan.roots[i][0]
			m.root = func() error { return t.makeRoot(ctx, root, path) }
		}
		members[k] = m
	}
	sendGroup(src, members, stream)
	for k, i := range needy {
		out[i].Bytes, out[i].Err = members[k].c.sent(), members[k].err
	}
}

// copyRoots returns each target's GC root ("" for none), checked.
func copyRoots(targets []CopyTarget, req CopyRequest) ([]string, error) {
	roots := make([]string, len(targets))
	for i, t := range targets {
		roots[i] = cmp.Or(t.Root, req.Root)
		if roots[i] == "" {
			continue
		}
		if len(req.Paths) == 0 && len(t.Paths) == 0 {
			return nil, errors.New("a GC root needs a path to root")
		}
		if err := checkRoot(roots[i]); err != nil {
			return nil, err
		}
	}
	return roots, nil
}

// greeted returns a wait for the greeting whose outcome c will carry.
func greeted(c <-chan error) func() error { return func() error { return <-c } }

// closeRooted makes root (when set) a GC root of paths[0] while the
// session still holds the closure against the host's garbage collector,
// then ends the session.
func (s *serveSession) closeRooted(ctx context.Context, t CopyTarget, root string, paths []string) error {
	if root != "" {
		if err := t.makeRoot(ctx, root, paths[0]); err != nil {
			s.abort()
			return err
		}
	}
	return s.close()
}

// makeRoot makes root a GC root of path on the target, saying so first.
func (t CopyTarget) makeRoot(ctx context.Context, root, path string) error {
	if t.Rooting != nil {
		t.Rooting()
	}
	return makeRoot(ctx, t.Runner, root, path)
}

// lacking waits for greet (the host's greeting) and returns the paths
// of target i's closure that it lacks (after substituting what it can,
// when substitute), the size of that closure, and how many paths it
// substituted. infos waits for the records of the whole closure, which a
// target's own closure is found from when the targets differ.
func lacking(s *serveSession, plan *copyPlan, i int, substitute bool, infos func() ([]PathInfo, error), greet func() error) ([]string, int, int, error) {
	if err := greet(); err != nil {
		return nil, 0, 0, fmt.Errorf("check which paths the host lacks: %w", err)
	}
	closure := plan.closure
	if !plan.shared {
		all, err := infos()
		if err == nil {
			closure, err = plan.closureOf(i, all)
		}
		if err != nil {
			s.abort()
			return nil, 0, 0, err
		}
	}
	missing, err := s.invalid(closure, true, false)
	if err != nil {
		return nil, len(closure), 0, fmt.Errorf("check which paths the host lacks: %w", err)
	}
	if !substitute || len(missing) == 0 {
		return missing, len(closure), 0, nil
	}
	still, err := s.invalid(missing, true, true)
	if err != nil {
		return missing, len(closure), 0, substError{fmt.Errorf("substitute on destination: %w", err)}
	}
	return still, len(closure), len(missing) - len(still), nil
}
