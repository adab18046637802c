package fleet

import (
	"fmt"
	"sync"
)

// planWaves splits nodes into the waves a rollout goes through: without
// a canary, one wave of every node; with one, the canary nodes first (all
// of them), then the others in waves of batch.Size(len(others)) — the
// percentage is of the hosts left after the canary. A zero batch puts
// the others in one wave. Fleet order is kept inside each wave.
func planWaves(nodes, canary []*Node, batch Batch) [][]*Node {
	if len(nodes) == 0 {
		return nil
	}
	if len(canary) == 0 {
		return [][]*Node{nodes}
	}
	isCanary := make(map[*Node]bool, len(canary))
	for _, n := range canary {
		isCanary[n] = true
	}
	var first, rest []*Node
	for _, n := range nodes {
		if isCanary[n] {
			first = append(first, n)
		} else {
			rest = append(rest, n)
		}
	}
	waves := [][]*Node{first}
	size := len(rest)
	if batch != (Batch{}) {
		size = batch.Size(len(rest))
	}
	for len(rest) > 0 {
		k := min(size, len(rest))
		waves = append(waves, rest[:k:k])
		rest = rest[k:]
	}
	return waves
}

// wave runs the hosts of wave number n: each starts when the control lets
// it (not paused, a slot free, not halted or aborted), and the wave ends
// when every started host has; then the changed hosts soak and are
// checked again, and the wave is judged.
func (r *run) wave(n int, w []*hostRec) {
	names := make([]string, len(w))
	for i, rec := range w {
		names[i] = rec.h.Node.Name
	}
	canary := w[0].canary
	r.o.s.emit(WaveStarted{EventBase: r.o.base(""), Wave: n, Canary: canary, Hosts: names})
	var wg sync.WaitGroup
	// While hosts start one after the other, the first may reach its
	// copy step before the next is counted: the copies wait until the
	// scheduler has to wait, or has started the wave.
	idle := func() { r.copies.starting(false) }
	for _, rec := range w {
		r.copies.starting(true)
		if !r.ctl.acquire(r.ctx, r.p.Policy.Parallel, false, idle) {
			break
		}
		r.flushNotices()
		rec.started = true
		r.copies.expect()
		wg.Go(func() {
			defer r.ctl.release()
			rec.res = r.work(r.ctx, rec.h)
			r.copies.pass(rec.h)
			r.judge(rec)
		})
	}
	idle()
	wg.Wait()
	r.soak(w)
	if r.ctl.haltReason() == "" && !r.ctl.isAborted() && r.ctx.Err() == nil {
		r.o.s.emit(WaveHealthy{EventBase: r.o.base(""), Wave: n})
	}
}

// judge counts a host's result against the failure budget and halts the
// rollout when it is spent, or at once when a canary did not end done or
// unchanged. Hosts stopped by a second Abort are not judged.
func (r *run) judge(rec *hostRec) {
	res := &rec.res
	if res.interrupted {
		return
	}
	if rec.canary && !res.ok() {
		r.halt(fmt.Sprintf("canary %s %s: %s", rec.h.Node.Name, res.outcome, res.cause))
	}
	if !res.counts() {
		return
	}
	r.mu.Lock()
	r.failures++
	failed := r.failures
	r.mu.Unlock()
	if max := r.p.Policy.MaxFailures; failed > max {
		r.halt(fmt.Sprintf("failure budget spent: %d %s failed, max_failures is %d", failed, plural(failed, "host"), max))
	}
}

// halt stops new hosts from starting and reports why, once.
func (r *run) halt(reason string) {
	if r.ctl.halt(reason) {
		r.o.s.emit(RolloutHalted{EventBase: r.o.base(""), Reason: reason})
	}
}

// soak waits Policy.Soak once every host of the wave has ended, then runs
// the health checks of its changed hosts once more: a host unhealthy then
// has failed. Nothing soaks without checks, without a changed host, or
// once the rollout has halted or was aborted; an Abort ends the wait.
func (r *run) soak(w []*hostRec) {
	var live []*hostRec
	for _, rec := range w {
		if rec.res.outcome == OutcomeDone && rec.res.changed && r.checksLive() {
			live = append(live, rec)
		}
	}
	if len(live) == 0 || len(r.p.Policy.Health) == 0 || r.p.Policy.Soak <= 0 || r.ctl.haltReason() != "" || r.ctl.isAborted() {
		return
	}
	for _, rec := range live {
		rec.h.Phase(PhaseSoaking)
	}
	select {
	case <-r.after(r.p.Policy.Soak):
	case <-r.ctl.aborted:
		return
	case <-r.ctx.Done():
		return
	}
	slots := make(chan struct{}, r.p.Policy.Parallel)
	var wg sync.WaitGroup
	for _, rec := range live {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			rec.h.Phase(PhaseHealth)
			if err := r.recheck(r.ctx, rec.h); err != nil && r.ctx.Err() == nil {
				rec.res.fail("health", fmt.Errorf("unhealthy after the %s soak: %w", r.p.Policy.Soak, err))
				r.judge(rec)
			}
		})
	}
	wg.Wait()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
