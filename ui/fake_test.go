package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"nixdeck/fleet"
)

// hub is what the test's fake streams and the driver's commands share:
// one lock, and a condition that wakes the driver when a command ends
// or a stream's reader starts waiting. The driver is settled when every
// command still running is a reader waiting on a stream: nothing more
// can happen until the test says so. No timing, no sleeps.
type hub struct {
	mu       sync.Mutex
	cond     *sync.Cond
	inflight int // commands running
	blocked  int // readers waiting on a stream
}

func newHub() *hub {
	h := &hub{}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// stream is a fake operation's events: the test pushes batches and ends
// it; the console's reader takes what waits, as fleet.Stream does.
type stream struct {
	h       *hub
	q       []fleet.Event
	ended   bool
	waiting bool // its reader is counted in h.blocked
	reads   int  // NextBatch calls that returned events
}

func (h *hub) stream(events ...fleet.Event) *stream {
	return &stream{h: h, q: events}
}

// ended returns a stream that holds events and then ends.
func (h *hub) ended(events ...fleet.Event) *stream {
	s := h.stream(events...)
	s.ended = true
	return s
}

// NextBatch implements Events: what waits, up to limit, waiting for it
// while the stream has not ended.
func (s *stream) NextBatch(ctx context.Context, limit int) ([]fleet.Event, bool) {
	h := s.h
	stop := context.AfterFunc(ctx, func() {
		h.mu.Lock()
		s.wake()
		h.mu.Unlock()
	})
	defer stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(s.q) == 0 && !s.ended && ctx.Err() == nil {
		if !s.waiting {
			s.waiting = true
			h.blocked++
			h.cond.Broadcast()
		}
		h.cond.Wait()
	}
	if s.waiting {
		s.waiting = false
		h.blocked--
	}
	if len(s.q) == 0 {
		return nil, false
	}
	n := min(len(s.q), limit)
	b := append([]fleet.Event(nil), s.q[:n]...)
	s.q = s.q[n:]
	s.reads++
	return b, true
}

// push adds events (and ends the stream with end) for the reader.
func (s *stream) push(end bool, events ...fleet.Event) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.q = append(s.q, events...)
	s.ended = s.ended || end
	s.wake()
}

// wake counts the stream's waiting reader as running again, from the
// moment it has something to return, so that the driver waits for what
// it returns; called with the hub's lock held.
func (s *stream) wake() {
	if s.waiting {
		s.waiting = false
		s.h.blocked--
	}
	s.h.cond.Broadcast()
}

// fakeEngine is the console's Engine in tests: each call is recorded and
// answered by the stream the test prepared for it (by default, one that
// says every host's state, build or diff as the fields hold them).
type fakeEngine struct {
	h     *hub
	mu    sync.Mutex
	calls []string
	// states, built and diffs answer ReadStates, Build, Diff and
	// DiffRollback host by host; errs fails a host instead.
	states map[string]fleet.Event
	built  map[string]string
	diffs  map[string]*fleet.HostDiff
	errs   map[string]error
	// cache answers DiffOptions.CacheConfig: each host's cache status.
	cache map[string]string
	// next, when set, answers the next call whatever it is.
	next  []*stream
	plans []fleet.Plan
	ro    *fakeRollout
	jr    *stream
}

func newFakeEngine(h *hub) *fakeEngine {
	return &fakeEngine{h: h, states: map[string]fleet.Event{}, built: map[string]string{},
		diffs: map[string]*fleet.HostDiff{}, errs: map[string]error{}}
}

func (f *fakeEngine) record(call string, nodes []*fleet.Node) *stream {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call+" "+nodeNames(nodes))
	if len(f.next) > 0 {
		s := f.next[0]
		f.next = f.next[1:]
		return s
	}
	return nil
}

// called returns the calls made so far, one "Kind host,host" each.
func (f *fakeEngine) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// perHost answers an operation on nodes: event(host) for each that has
// one, then its DoneEvent (with errs[host]).
func (f *fakeEngine) perHost(op string, nodes []*fleet.Node, event func(host string) fleet.Event) *stream {
	evs := []fleet.Event{fleet.OpStarted{EventBase: base(op, ""), Kind: op}}
	for _, n := range nodes {
		err := f.errs[n.Name]
		if e := event(n.Name); e != nil && err == nil {
			evs = append(evs, e)
		}
		evs = append(evs, fleet.DoneEvent{EventBase: base(op, n.Name), Err: err})
	}
	return f.h.ended(append(evs, fleet.OpFinished{EventBase: base(op, "")})...)
}

func (f *fakeEngine) ReadStates(ctx context.Context, nodes []*fleet.Node) Events {
	if s := f.record("ReadStates", nodes); s != nil {
		return s
	}
	return f.perHost("status", nodes, func(h string) fleet.Event { return f.states[h] })
}

func (f *fakeEngine) Build(ctx context.Context, nodes []*fleet.Node, rootDir string, deploy bool) Events {
	call := "Build"
	if deploy {
		call = "Build to deploy"
	}
	if s := f.record(call, nodes); s != nil {
		return s
	}
	return f.perHost("build", nodes, func(h string) fleet.Event {
		if p := f.built[h]; p != "" {
			return fleet.BuiltEvent{EventBase: base("build", h), System: p}
		}
		return nil
	})
}

func (f *fakeEngine) diff(op string, nodes []*fleet.Node) *stream {
	return f.perHost(op, nodes, func(h string) fleet.Event {
		if d := f.diffs[h]; d != nil {
			return fleet.DiffEvent{EventBase: base(op, h), Diff: d}
		}
		return nil
	})
}

func (f *fakeEngine) Diff(ctx context.Context, nodes []*fleet.Node, opts fleet.DiffOptions) Events {
	call := "Diff"
	if opts.Systems != nil {
		call = "Diff(built)"
	}
	if opts.CacheConfig {
		call += "+cache"
	}
	if s := f.record(call, nodes); s != nil {
		return s
	}
	if opts.CacheConfig {
		return f.perHost("diff", nodes, func(h string) fleet.Event {
			return fleet.CacheConfigEvent{EventBase: base("diff", h), Status: f.cache[h]}
		})
	}
	return f.diff("diff", nodes)
}

func (f *fakeEngine) DiffRollback(ctx context.Context, nodes []*fleet.Node, to int) Events {
	if s := f.record(fmt.Sprintf("DiffRollback(%d)", to), nodes); s != nil {
		return s
	}
	return f.diff("diff", nodes)
}

func (f *fakeEngine) Journal(ctx context.Context, node *fleet.Node, unit string, lines int) Events {
	f.record(fmt.Sprintf("Journal(%q,%d)", unit, lines), []*fleet.Node{node})
	// The stream is captured: the next Journal call replaces f.jr while
	// this one's cancellation may still be running.
	jr := f.h.stream()
	f.jr = jr
	context.AfterFunc(ctx, func() { jr.push(true) })
	return jr
}

func (f *fakeEngine) Rollout(ctx context.Context, p fleet.Plan) Rollout {
	f.record("Rollout "+p.Kind+" "+string(p.Action), p.Nodes)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plans = append(f.plans, p)
	f.ro = &fakeRollout{s: f.h.stream()}
	return f.ro
}

// fakeRollout is a rollout whose events the test pushes; the controls
// are counted.
type fakeRollout struct {
	s                       *stream
	mu                      sync.Mutex
	pauses, resumes, aborts int
}

func (r *fakeRollout) ID() string     { return "deploy-test" }
func (r *fakeRollout) Events() Events { return r.s }
func (r *fakeRollout) Pause()         { r.mu.Lock(); r.pauses++; r.mu.Unlock() }
func (r *fakeRollout) Resume()        { r.mu.Lock(); r.resumes++; r.mu.Unlock() }
func (r *fakeRollout) Abort()         { r.mu.Lock(); r.aborts++; r.mu.Unlock() }

// controls says how often each control was called.
func (r *fakeRollout) controls() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("pause %d, resume %d, abort %d", r.pauses, r.resumes, r.aborts)
}

// base is the EventBase of a test event.
func base(op, host string) fleet.EventBase {
	return fleet.EventBase{OpID: op, HostName: host, Time: testNow}
}

// joined joins lines for messages.
func joined(lines []string) string { return strings.Join(lines, "\n") }
