package fleet

import (
	"context"
	"fmt"
	"time"

	"nixdeck/nix"
)

// releaseTimeout bounds releasing a host's lock and removing its GC root,
// which happen even when the rollout was told to stop waiting.
const releaseTimeout = 30 * time.Second

// deployHost is one host's deploy: connect, read its state (an unchanged
// host stops here), lock, copy the missing paths under a GC root,
// activate (detached, confirmed over a new connection under magic
// rollback), check that it runs the new system, then its health checks.
// The lock is released and the root removed on every path out.
func (r *run) deployHost(ctx context.Context, h *HostRun) (res hostResult) {
	defer timed(&res)()
	st, ok := r.begin(ctx, h, &res)
	if !ok {
		return res
	}
	system := r.p.Systems[h.Node.Name]
	res.fromSystem, res.fromGen = st.Current, st.ProfileGeneration
	res.toSystem, res.toGen = system, st.ProfileGeneration
	if isUnchanged(st, system, r.p.Action) {
		res.outcome = OutcomeUnchanged
		return res
	}
	res.back = backFrom(st, r.p.Action)
	r.locked(ctx, h, r.o.id, &res, func() {
		// The root goes on every path out: a copy that failed late may
		// have made it.
		root := nix.GCRootDir + "/" + r.o.id
		defer r.unroot(ctx, h, root)
		if err := r.copies.copy(ctx, copyJob{h: h, system: system, root: root, cacheRequired: r.p.CacheRequired}); err != nil {
			res.stopped(ctx, "copy", err)
			return
		}
		r.activate(ctx, h, &res, activation{action: r.p.Action, path: system, opID: r.o.id})
		if res.outcome == OutcomeDone && r.checksLive() {
			r.health(ctx, h, &res)
		}
	})
	return res
}

// rollbackHost is one host's rollback: connect, read its state, pick the
// generation (Plan.RollbackTo, or the one before the current), then
// under the lock switch to it as a deploy would.
func (r *run) rollbackHost(ctx context.Context, h *HostRun) (res hostResult) {
	defer timed(&res)()
	st, ok := r.begin(ctx, h, &res)
	if !ok {
		return res
	}
	res.fromSystem, res.fromGen = st.Current, st.ProfileGeneration
	g, err := nix.RollbackTarget(st, r.p.RollbackTo)
	if err != nil {
		res.fail("rollback", err)
		return res
	}
	res.toSystem, res.toGen = g.Path, g.Number
	if st.Current == g.Path && st.ProfileGeneration == g.Number {
		res.outcome = OutcomeUnchanged
		return res
	}
	res.back = backFrom(st, nix.Switch)
	r.locked(ctx, h, r.o.id, &res, func() {
		r.activate(ctx, h, &res, activation{action: nix.Switch, path: g.Path, generation: g.Number, opID: r.o.id})
	})
	return res
}

// timed adds the time until the returned function is called to res.took.
func timed(res *hostResult) func() {
	start := time.Now()
	return func() { res.took += time.Since(start) }
}

// begin connects to the host and reads its state, reporting it; on
// failure res says why (unreachable when no connection could be made).
func (r *run) begin(ctx context.Context, h *HostRun, res *hostResult) (*nix.HostState, bool) {
	if err := r.steps.connect(ctx, h); err != nil {
		res.stopped(ctx, "connect", err)
		if !res.interrupted {
			res.outcome = OutcomeUnreachable
			res.setCause("", err)
		}
		return nil, false
	}
	h.Phase(PhaseReading)
	st, err := r.steps.state(ctx, h)
	if err != nil {
		res.stopped(ctx, "read state", err)
		return nil, false
	}
	h.Emit(StateEvent{EventBase: h.Base(), State: st})
	return st, true
}

// locked runs fn holding the host's lock for the activation opID, and
// releases the lock after it on a context of its own: a second Abort
// must not leave the host locked.
func (r *run) locked(ctx context.Context, h *HostRun, opID string, res *hostResult, fn func()) {
	h.Phase(PhaseLocking)
	l := lockSpec{profile: r.p.Profile, opID: opID, owner: r.p.Owner, brk: r.p.BreakLock, staleAfter: r.p.Policy.ActivationTimeout}
	broke, err := r.steps.lock(ctx, h, l)
	if err != nil {
		res.stopped(ctx, "lock", err)
		return
	}
	if broke != "" {
		res.lockBroken = broke
		h.Log("lock")("broke the stale lock of " + broke)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := r.steps.unlock(uctx, h, l); err != nil {
			h.Log("lock")("releasing the lock failed: " + err.Error())
			res.remark(shortCause("lock not released", err))
		}
	}()
	fn()
}

// unroot removes the rollout's GC root on the host once the activation
// is over: the profile (or the running system) holds the closure now, or
// nothing should.
func (r *run) unroot(ctx context.Context, h *HostRun, root string) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := r.steps.unroot(uctx, h, root); err != nil {
		h.Log("copy")(shortCause("removing the GC root "+root+" failed", err))
	}
}

// checksLive reports whether the action changes what runs, so that
// health checks and soaking mean something: switch and test (and a
// rollback, which switches). boot and dry-activate change nothing live.
func (r *run) checksLive() bool {
	return r.p.Action == nix.Switch || r.p.Action == nix.Test
}

// health runs the health checks on a freshly activated host; failing
// them fails the host, which stays changed (on_failure may take it back).
func (r *run) health(ctx context.Context, h *HostRun, res *hostResult) {
	if len(r.p.Policy.Health) == 0 {
		return
	}
	h.Phase(PhaseHealth)
	err := r.untilHealthy(ctx, h)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.lost(err, fmt.Sprintf("health checks interrupted; the host runs the new system (generation %d)", res.toGen))
	default:
		res.fail("health", err)
	}
}

// howToCheck tells the operator how to learn what became of a host
// nixdeck stopped waiting for during the activation opID.
func (r *run) howToCheck(h *HostRun, opID string) string {
	return fmt.Sprintf("`nixdeck status --on %s` or %s/%s/status on the host", h.Node.Name, nix.NixdeckRunDir, opID)
}
