package fleet

import (
	"context"
	"sync"
	"time"
)

// control is what the operator's calls (Pause, Resume, Abort), the
// scheduler and the hosts' goroutines share. The operator's calls only
// change it and queue a notice; the rollout's own goroutine turns notices
// into events, because emitting may wait for the stream's reader, and the
// caller of Pause may be that reader (a console's key handler).
type control struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every change
	paused  bool
	aborts  int
	halted  string // why no host starts any more; "" while they may
	running int    // hosts started and not yet ended
	waiting int    // callers of acquire waiting for leave to start
	notices []notice
	aborted chan struct{} // closed by the first Abort
	stop    context.CancelFunc
}

// notice is an operator's call waiting to be reported: Pause or Resume
// (a RolloutPaused), or Abort (an AbortRequested).
type notice struct {
	at            time.Time
	abort, second bool
	paused        bool
}

func newControl() *control {
	return &control{changed: make(chan struct{}), aborted: make(chan struct{})}
}

// signal wakes everyone waiting for a change; called with mu held.
func (c *control) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// pause sets or clears the pause; a call that changes nothing, or comes
// after an Abort, is not reported.
func (c *control) pause(p bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == p || c.aborts > 0 {
		return
	}
	c.paused = p
	c.notices = append(c.notices, notice{at: time.Now(), paused: p})
	c.signal()
}

// abort records an Abort: the first stops new hosts, the second cancels
// the hosts' contexts too. Later ones change nothing.
func (c *control) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborts >= 2 {
		return
	}
	c.aborts++
	c.notices = append(c.notices, notice{at: time.Now(), abort: true, second: c.aborts == 2})
	if c.aborts == 1 {
		close(c.aborted)
	} else if c.stop != nil {
		c.stop()
	}
	c.signal()
}

// setStop hands the control the cancellation of the hosts' contexts; a
// second Abort that came first takes effect now.
func (c *control) setStop(stop context.CancelFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stop = stop
	if c.aborts >= 2 {
		stop()
	}
}

// isAborted reports whether Abort was called.
func (c *control) isAborted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aborts > 0
}

// halt stops hosts from starting, for reason; it reports whether this
// call did it (the rollout reports the first reason only).
func (c *control) halt(reason string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.halted != "" {
		return false
	}
	c.halted = reason
	c.signal()
	return true
}

// haltReason is why the rollout halted; "" if it has not.
func (c *control) haltReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.halted
}

// acquire waits until a host may start: not paused and fewer than
// parallel hosts running. It returns false, starting nothing, once none
// may start any more: aborted, ctx done, or halted (unless afterHalt: the
// rollbacks that on_failure starts once the rollout has halted). blocked,
// when set, is called (without the lock) before it first has to wait.
func (c *control) acquire(ctx context.Context, parallel int, afterHalt bool, blocked func()) bool {
	c.mu.Lock()
	for waited := false; ; waited = true {
		if c.aborts > 0 || ctx.Err() != nil || (c.halted != "" && !afterHalt) {
			if waited {
				c.waiting--
			}
			c.mu.Unlock()
			return false
		}
		if !c.paused && c.running < parallel {
			c.running++
			if waited {
				c.waiting--
			}
			c.signal()
			c.mu.Unlock()
			return true
		}
		if !waited {
			// Said once, not at every wake-up: two waiters would wake
			// each other for ever.
			c.waiting++
			c.signal()
		}
		ch := c.changed
		c.mu.Unlock()
		if !waited && blocked != nil {
			blocked()
		}
		select {
		case <-ch:
		case <-ctx.Done():
		}
		c.mu.Lock()
	}
}

// release ends a host that acquire started.
func (c *control) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running--
	c.signal()
}

// takeNotices returns the operator's calls not yet reported, and a
// channel closed at the next change.
func (c *control) takeNotices() ([]notice, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.notices
	c.notices = nil
	return n, c.changed
}
