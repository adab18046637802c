package fleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"nixdeck/fleet/remote"
	"nixdeck/nix"
)

// Options says how an Engine reaches its hosts and runs local commands.
type Options struct {
	// SSH bounds the transport's waits and names the ssh_config file, for
	// the Engine's own connection pool and for ScanKeys.
	SSH remote.Options
	// Connector, when set, hands out the hosts' runners instead of an SSH
	// pool of the Engine's own (tests put fakes and counting wrappers
	// here); its connections stay the caller's to close.
	Connector Connector
	// Local runs commands on this machine (builds, closure reads, the
	// sending side of a copy); nil means nix.LocalRunner{}.
	Local nix.Runner
}

// Engine runs operations on one fleet: status, build, diff, trust scans
// and the rollouts to come. It owns the connections its operations open
// (one per host, shared by every operation) until Close. main parses
// flags, calls an Engine and prints what its Streams say.
type Engine struct {
	fleet *Fleet
	opts  Options
	conn  Connector
	local nix.Runner
	pool  *remote.Pool // nil when the caller supplied the Connector

	ctx    context.Context // cancelled by Close: every operation ends
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	ops    sync.WaitGroup
	roots  []builderRoot // GC roots builds made on builders, see keepRoots
}

// Open returns an Engine for f. Nothing is dialled until an operation
// needs a host.
func Open(f *Fleet, o Options) *Engine {
	e := &Engine{fleet: f, opts: o, conn: o.Connector, local: o.Local}
	if e.conn == nil {
		e.pool = remote.NewPool(o.SSH)
		e.conn = PoolConnector{Pool: e.pool}
	}
	if e.local == nil {
		e.local = nix.LocalRunner{}
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

// Close interrupts the operations still running, waits until their
// goroutines have returned, then closes the connections. Streams of
// interrupted operations need not be read any further.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.ops.Wait()
	e.dropRoots()
	if e.pool != nil {
		return e.pool.Close()
	}
	return nil
}

// parallel is how many hosts an operation works on at once: the fleet
// file's deploy.parallel, for every operation.
func (e *Engine) parallel() int { return max(e.fleet.Deploy.Parallel, 1) }

// op is one running operation: its id, its stream, and the Engine's local
// runner reporting commands as the operation's.
type op struct {
	id    string
	e     *Engine
	s     *Stream
	local nix.Runner
}

// newOpID returns a fresh operation id, e.g. "diff-20240701T100000-3f2a9c".
func newOpID(kind string) string {
	return fmt.Sprintf("%s-%s-%06x", kind, time.Now().UTC().Format("20060102T150405"), rand.Uint32()&0xffffff)
}

// base returns the EventBase of a new event about host ("" for the
// operation itself), stamped now.
func (o *op) base(host string) EventBase {
	return EventBase{OpID: o.id, HostName: host, Time: time.Now()}
}

// start runs body as an operation of kind over nodes and returns its
// stream: OpStarted, PhaseQueued for every node, what body emits (a
// DoneEvent for every node), then OpFinished with body's error. The
// operation ends when ctx does or when the Engine is closed.
func (e *Engine) start(ctx context.Context, kind string, nodes []*Node, body func(ctx context.Context, o *op) error) *Stream {
	return e.startOp(ctx, kind, nodes, nil, body).s
}

// startOp is start for an operation whose events tap sees first (nil:
// none), in the order they are emitted, and which the caller needs to
// know by its id at once (a rollout's handle).
func (e *Engine) startOp(ctx context.Context, kind string, nodes []*Node, tap func(Event), body func(ctx context.Context, o *op) error) *op {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(e.ctx, cancel)
	o := &op{id: newOpID(kind), e: e, s: newStream(ctx)}
	o.s.tap = tap
	o.local = commandRunner{r: e.local, op: o, local: true}
	finished := e.track()
	go func() {
		defer finished()
		defer stop()
		defer cancel()
		defer o.s.end()
		o.s.emit(OpStarted{EventBase: o.base(""), Kind: kind, Hosts: names(nodes)})
		for _, n := range nodes {
			o.host(n).Phase(PhaseQueued)
		}
		err := body(ctx, o)
		o.s.emit(OpFinished{EventBase: o.base(""), Err: err})
	}()
	return o
}

// track counts a new operation for Close to wait on. After Close the
// Engine's context is already done, so the operation ends at once; it is
// not counted, as a WaitGroup must not grow while Close waits on it.
func (e *Engine) track() (finished func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return func() {}
	}
	e.ops.Add(1)
	return e.ops.Done
}
