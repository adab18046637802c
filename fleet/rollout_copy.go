package fleet

import (
	"context"
	"sync"
	"time"
)

// A rollout's hosts copy together. Each host reaches its copy step on
// its own (after connecting, reading its state, locking), but copying
// host by host would read this machine's store once per host. So the
// hosts that reach their copy step at about the same time are gathered
// into one batch, copied with one nix.CopyMany: the closures' shared
// paths are read once and streamed to every host lacking them. Each host
// still has its own phases, progress, GC root and error, and a host that
// fails does not stop the others.
//
// A batch goes as soon as every host started that may still copy is
// waiting at its copy step (a host that turns out unchanged, or fails
// before it, no longer counts) and the scheduler is not starting more
// (it is waiting for a slot, or has started its wave), or copyGatherWait
// after the first of them arrived: a host stuck connecting or locking
// must not hold the others for long. One host alone never waits.

// copyGatherWait bounds how long a host waits at its copy step for the
// others of its wave.
const copyGatherWait = 2 * time.Second

// copyJob is one host's part of a batch: its system and GC root, and
// whether its cache is required (Plan.CacheRequired).
type copyJob struct {
	h             *HostRun
	system, root  string
	cacheRequired bool
}

// copyGather forms the batches. expect and pass are the scheduler's:
// a host started, a host whose copy step is behind it (or never came).
type copyGather struct {
	steps hostSteps
	after func(time.Duration) <-chan time.Time
	ctx   context.Context // the hosts' context, the batches'
	ended chan struct{}   // closed by end
	wg    sync.WaitGroup  // batches and their deadlines

	mu      sync.Mutex
	ahead   int               // hosts started whose copy step may still come
	more    bool              // the scheduler is starting hosts
	passed  map[*HostRun]bool // hosts that arrived or will not
	waiting []*copyWaiter     // arrived, not yet sent
	batch   int               // number of the batch being gathered
}

// copyWaiter is a host waiting at its copy step; err receives how its
// copy ended once sent (under the gather's mu) is set.
type copyWaiter struct {
	job  copyJob
	err  chan error
	sent bool
}

func newCopyGather(ctx context.Context, steps hostSteps, after func(time.Duration) <-chan time.Time) *copyGather {
	return &copyGather{steps: steps, after: after, ctx: ctx, ended: make(chan struct{}), passed: map[*HostRun]bool{}}
}

// end stops the deadlines of batches that will not be needed and waits
// for the batches sent; called once every host has ended.
func (g *copyGather) end() {
	close(g.ended)
	g.wg.Wait()
}

// expect counts a host that has just started: it may come to copy.
func (g *copyGather) expect() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ahead++
}

// starting says whether the scheduler is starting hosts (more may
// come at once) or not (it waits, or its wave has started).
func (g *copyGather) starting(more bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.more = more
	g.sendIfAllIn()
}

// pass says that h's copy step is behind it, or will never come (its
// work has ended); the hosts waiting may not have to wait for it.
func (g *copyGather) pass(h *HostRun) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.passLocked(h)
	g.sendIfAllIn()
}

func (g *copyGather) passLocked(h *HostRun) {
	if !g.passed[h] {
		g.passed[h] = true
		g.ahead--
	}
}

// copy is h's copy step: it reports PhaseCopying once h has joined the
// batch being gathered (before the batch can go, so before any of its
// progress), waits for the batch and returns how its copy ended, or
// ctx's error if ctx ended before the batch went.
func (g *copyGather) copy(ctx context.Context, j copyJob) error {
	w := &copyWaiter{job: j, err: make(chan error, 1)}
	g.mu.Lock()
	j.h.Phase(PhaseCopying)
	g.passLocked(j.h)
	g.waiting = append(g.waiting, w)
	if len(g.waiting) == 1 {
		g.batch++
		n := g.batch
		g.wg.Go(func() { g.deadline(n) })
	}
	g.sendIfAllIn()
	g.mu.Unlock()
	select {
	case err := <-w.err:
		return err
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.sent {
		// Its batch went at that moment: the copy, on the hosts'
		// context too, ends with the cancellation.
		return <-w.err
	}
	for i, o := range g.waiting {
		if o == w {
			g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
			break
		}
	}
	return ctx.Err()
}

// deadline sends batch n, if it is still being gathered, once
// copyGatherWait has passed.
func (g *copyGather) deadline(n int) {
	select {
	case <-g.after(copyGatherWait):
	case <-g.ended:
		return
	case <-g.ctx.Done():
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.batch == n && len(g.waiting) > 0 {
		g.send()
	}
}

// sendIfAllIn sends the waiting hosts once no other host may still
// come; called with mu held.
func (g *copyGather) sendIfAllIn() {
	if len(g.waiting) > 0 && g.ahead <= 0 && !g.more {
		g.send()
	}
}

// send copies the waiting hosts as one batch; called with mu held.
func (g *copyGather) send() {
	ws := g.waiting
	g.waiting = nil
	jobs := make([]copyJob, len(ws))
	for i, w := range ws {
		w.sent = true
		jobs[i] = w.job
	}
	if err := g.ctx.Err(); err != nil {
		// Stopped: nothing to start (the waiters are on their way out).
		for _, w := range ws {
			w.err <- err
		}
		return
	}
	g.wg.Go(func() {
		errs := g.steps.copy(g.ctx, jobs)
		for i, w := range ws {
			w.err <- errs[i]
		}
	})
}
