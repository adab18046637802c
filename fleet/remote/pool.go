package remote

import (
	"context"
	"sync"
)

// Pool keeps one connection per host, reused by every command of an
// operation, and shares bastion connections between the hosts behind them.
// It is safe for concurrent use.
type Pool struct {
	d *dialer

	mu     sync.Mutex
	conns  map[Target]*poolEntry
	extra  []*Client // Fresh connections, closed with the pool
	closed bool
}

// poolEntry is one host's connection, or the dial in flight for it.
type poolEntry struct {
	ready  chan struct{} // closed when the dial finished
	client *Client
	err    error
}

// NewPool returns an empty pool whose connections use o.
func NewPool(o Options) *Pool {
	p := &Pool{conns: map[Target]*poolEntry{}}
	p.d = &dialer{opts: o.withDefaults(), jump: p.Get}
	return p
}

// Get returns the live connection to t, dialling it when there is none (or
// the previous one died). Concurrent calls for the same target share one
// dial. A failed dial is not cached: the next Get tries again.
func (p *Pool) Get(ctx context.Context, t Target) (*Client, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errPoolClosed(t)
		}
		e, ok := p.conns[t]
		if !ok || e.dead() {
			e = &poolEntry{ready: make(chan struct{})}
			p.conns[t] = e
			p.mu.Unlock()
			e.client, e.err = p.d.dial(ctx, t)
			p.settle(t, e)
			return e.client, e.err
		}
		p.mu.Unlock()
		select {
		case <-e.ready:
			if e.err == nil {
				return e.client, nil
			}
			// Another caller's dial failed (perhaps its context ended);
			// loop to dial with ours.
		case <-ctx.Done():
			return nil, &Error{Name: t.Name, Addr: t.Host, Op: "dial", Err: ctx.Err()}
		}
	}
}

// Fresh dials a new, separate connection to t, for proving the host is
// reachable right now. It also becomes the pooled connection when the
// pooled one is missing or dead. The pool closes it on Close; the caller
// may close it earlier.
func (p *Pool) Fresh(ctx context.Context, t Target) (*Client, error) {
	c, err := p.d.dial(ctx, t)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return nil, errPoolClosed(t)
	}
	p.extra = append(p.extra, c)
	if e, ok := p.conns[t]; !ok || e.dead() {
		done := make(chan struct{})
		close(done)
		p.conns[t] = &poolEntry{ready: done, client: c}
	}
	return c, nil
}

// Close closes every connection the pool made.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var all []*Client
	for _, e := range p.conns {
		select {
		case <-e.ready:
			if e.client != nil {
				all = append(all, e.client)
			}
		default:
			// A dial in flight closes its client in settle.
		}
	}
	all = append(all, p.extra...)
	p.conns, p.extra = map[Target]*poolEntry{}, nil
	p.mu.Unlock()
	var first error
	for _, c := range all {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// settle publishes a finished dial; a failed one is forgotten, and one that
// finished after Close is closed at once.
func (p *Pool) settle(t Target, e *poolEntry) {
	p.mu.Lock()
	if p.closed && e.client != nil {
		e.client.Close()
		e.client, e.err = nil, errPoolClosed(t)
	}
	if e.err != nil && p.conns[t] == e {
		delete(p.conns, t)
	}
	p.mu.Unlock()
	close(e.ready)
}

// dead reports whether the entry holds a connection that has died. An
// entry still dialling is not dead.
func (e *poolEntry) dead() bool {
	select {
	case <-e.ready:
	default:
		return false
	}
	if e.client == nil {
		return true
	}
	select {
	case <-e.client.Done():
		return true
	default:
		return false
	}
}

func errPoolClosed(t Target) error {
	return &Error{Name: t.Name, Addr: t.Host, Op: "dial", Err: errClosedPool}
}
