package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"nixdeck/nix"
)

// run is one rollout at work: the plan as checked, the hosts' records
// in fleet order, and the failure count the budget is kept against.
type run struct {
	o     *op
	p     Plan
	steps hostSteps
	ctl   *control
	after func(time.Duration) <-chan time.Time
	// ctx is the hosts' context: it ends with the operation's, or at a
	// second Abort (stop waiting), while the stream still takes events.
	ctx    context.Context
	hosts  []*hostRec
	byNode map[*Node]*hostRec
	work   func(ctx context.Context, h *HostRun) hostResult
	copies *copyGather

	mu       sync.Mutex
	failures int
	noticeMu sync.Mutex // one reporter of notices at a time, in order
}

// hostRec is one host of the rollout. res is written by the host's own
// goroutine, read by the scheduler once that goroutine has ended.
type hostRec struct {
	h       *HostRun
	canary  bool
	started bool
	settled bool
	res     hostResult
}

// newRun checks p and fills in its defaults; an error refuses the plan
// before any host is touched.
func newRun(ctx context.Context, o *op, p Plan, steps hostSteps, ctl *control, after func(time.Duration) <-chan time.Time) (*run, error) {
	if err := p.normalise(); err != nil {
		return nil, err
	}
	hctx, stop := context.WithCancel(ctx)
	ctl.setStop(stop)
	r := &run{o: o, p: p, steps: steps, ctl: ctl, after: after, ctx: hctx, byNode: map[*Node]*hostRec{},
		copies: newCopyGather(hctx, steps, after)}
	r.work = r.deployHost
	if p.Kind == PlanRollback {
		r.work = r.rollbackHost
	}
	for _, n := range p.Nodes {
		rec := &hostRec{h: o.host(n)}
		r.hosts = append(r.hosts, rec)
		r.byNode[n] = rec
	}
	for _, n := range p.Canary {
		r.byNode[n].canary = true
	}
	return r, nil
}

// normalise fills in the plan's defaults and refuses what cannot run.
func (p *Plan) normalise() error {
	if p.Profile == "" {
		p.Profile = DefaultProfile
	}
	if p.Owner == "" {
		p.Owner = nix.LocalOwner()
	}
	if p.Profile != DefaultProfile {
		return fmt.Errorf("profile %q: only the %s profile can be deployed", p.Profile, DefaultProfile)
	}
	seen := map[*Node]bool{}
	for _, n := range p.Nodes {
		if seen[n] {
			return fmt.Errorf("host %s is selected twice", n.Name)
		}
		seen[n] = true
	}
	for _, n := range p.Canary {
		if !seen[n] {
			return fmt.Errorf("canary %s is not among the selected hosts", n.Name)
		}
	}
	pol := &p.Policy
	pol.Parallel = max(pol.Parallel, 1)
	if pol.MagicRollback && pol.ConfirmTimeout <= 0 {
		// Magic rollback asked for with no wait would be silently off.
		pol.ConfirmTimeout = DefaultDeploy().ConfirmTimeout
	}
	pol.MaxFailures = max(pol.MaxFailures, 0)
	switch pol.OnFailure {
	case "":
		pol.OnFailure = OnFailureHalt
	case OnFailureHalt, OnFailureRollbackFailed, OnFailureRollbackAll:
	default:
		return fmt.Errorf("on_failure %q: want %s, %s or %s", pol.OnFailure, OnFailureHalt, OnFailureRollbackFailed, OnFailureRollbackAll)
	}
	switch p.Kind {
	case PlanRollback:
		// Every host goes back at once, on its own: no canary, no
		// budget, nothing to roll back to if it fails, no checks.
		p.Action, p.Canary = nix.Switch, nil
		pol.MaxFailures, pol.OnFailure, pol.Health = len(p.Nodes), OnFailureHalt, nil
		if p.RollbackTo < 0 {
			return fmt.Errorf("rollback to generation %d: want a generation number, or 0 for the previous one", p.RollbackTo)
		}
		return nil
	case PlanDeploy:
	default:
		return fmt.Errorf("plan kind %q: want %s or %s", p.Kind, PlanDeploy, PlanRollback)
	}
	if p.Action == "" {
		p.Action = nix.Action(pol.Action)
	}
	switch p.Action {
	case nix.Switch, nix.Boot, nix.Test, nix.DryActivate:
	default:
		return fmt.Errorf("action %q: want switch, boot, test or dry-activate", p.Action)
	}
	for _, n := range p.Nodes {
		if s := p.Systems[n.Name]; !strings.HasPrefix(s, "/") {
			return fmt.Errorf("host %s: no built system to deploy", n.Name)
		}
	}
	return nil
}

// run goes through the waves, then on_failure, then settles every host.
func (r *run) run() error {
	defer r.announce()()
	defer r.copies.end()
	waves := planWaves(r.p.Nodes, r.p.Canary, r.p.Policy.Batch)
	started := RolloutStarted{EventBase: r.o.base(""), Kind: r.p.Kind, Action: string(r.p.Action), Profile: r.p.Profile,
		Selector: r.p.Selector, Owner: r.p.Owner, Canary: names(r.p.Canary)}
	for _, w := range waves {
		started.Waves = append(started.Waves, names(w))
	}
	r.o.s.emit(started)
	for i, w := range waves {
		if r.ctl.haltReason() != "" || r.ctl.isAborted() || r.ctx.Err() != nil {
			break
		}
		recs := make([]*hostRec, len(w))
		for j, n := range w {
			recs[j] = r.byNode[n]
		}
		r.wave(i+1, recs)
		r.settle(recs, false)
	}
	if r.ctl.haltReason() != "" && !r.ctl.isAborted() && r.ctx.Err() == nil {
		r.onFailure()
	}
	r.settle(r.hosts, true)
	return nil
}

// settle reports the outcome of each host of recs that can no longer
// change (all of them when final), in fleet order. A host that was never
// started ends skipped, saying why.
func (r *run) settle(recs []*hostRec, final bool) {
	r.flushNotices()
	for _, rec := range recs {
		if rec.settled {
			continue
		}
		if !rec.started {
			if !final {
				continue
			}
			rec.res = hostResult{outcome: OutcomeSkipped, cause: "not started: " + r.whyStopped()}
			if r.ctl.isAborted() || r.ctx.Err() != nil {
				rec.res.err = &interruptedError{errors.New(rec.res.cause)}
			}
		}
		if final || rec.res.final(r.p.Policy.OnFailure) {
			rec.h.finish(rec.res)
			rec.settled = true
		}
	}
}

// whyStopped says why hosts were left unstarted.
func (r *run) whyStopped() string {
	switch reason := r.ctl.haltReason(); {
	case reason != "":
		return "the rollout halted (" + reason + ")"
	case r.ctl.isAborted():
		return "aborted"
	case errors.Is(context.Cause(r.ctx), context.Canceled):
		return "interrupted"
	}
	return "the rollout ended"
}

// announce reports the operator's calls (Pause, Resume, Abort) as they
// come, from a goroutine of its own: the rollout's may be waiting on its
// hosts. The returned function stops it and reports what is left.
func (r *run) announce() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			changed := r.flushNotices()
			select {
			case <-changed:
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		r.flushNotices()
	}
}

// flushNotices reports the operator's calls not yet reported, and
// returns a channel closed at the next change. The scheduler calls it
// too before it acts on a call (a host starting after Resume), so that
// the stream says why before it shows what.
func (r *run) flushNotices() <-chan struct{} {
	r.noticeMu.Lock()
	defer r.noticeMu.Unlock()
	ns, changed := r.ctl.takeNotices()
	for _, n := range ns {
		base := EventBase{OpID: r.o.id, Time: n.at}
		if n.abort {
			r.o.s.emit(AbortRequested{EventBase: base, Second: n.second})
		} else {
			r.o.s.emit(RolloutPaused{EventBase: base, Paused: n.paused})
		}
	}
	return changed
}

// names lists the nodes' names, in their order.
func names(ns []*Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Name
	}
	return out
}
