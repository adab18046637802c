package fleet

import (
	"context"
	"iter"
	"sync"
)

// Stream is the events of one operation, in the order they happened. It
// is a queue the operation fills and the reader empties, not a channel,
// for three reasons:
//   - A reader that cancels the operation and stops reading strands
//     nothing: once the operation's context is done, emitting never waits,
//     so every host's goroutine returns; nothing is left blocked on a send.
//   - Until then a reader that is behind slows the operation down rather
//     than losing events: log lines, phases and results are never dropped.
//   - Progress is state (CopyEvent): a newer value for a host replaces the
//     one still waiting, so a slow reader gets the latest, not every
//     256 KiB step, and the last value is always delivered.
//
// Read it with Next, or range over All.
type Stream struct {
	ctx context.Context // the operation's: once done, emit never waits
	// tap, when set, sees every event right before it is queued, in the
	// queue's order, with mu held (a rollout's recorder: history and
	// per-host logs); it must not emit.
	tap func(Event)

	mu      sync.Mutex
	q       []Event
	ended   bool
	changed chan struct{} // closed and replaced whenever q or ended changes
}

// streamBuffer is how many events may wait for the reader before an
// emitting host waits for it (progress does not count: it never waits).
const streamBuffer = 256

// latest is implemented by events that are state: a newer one of the
// same kind for the same host supersedes an undelivered older one.
type latest interface{ stateKind() string }

func newStream(ctx context.Context) *Stream {
	return &Stream{ctx: ctx, changed: make(chan struct{})}
}

// emit queues e, waiting while the reader is streamBuffer events behind
// and the operation still runs.
func (s *Stream) emit(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := e.(latest); ok {
		s.dropSuperseded(e.Host(), l.stateKind())
	} else {
		for len(s.q) >= streamBuffer && s.ctx.Err() == nil {
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
			case <-s.ctx.Done():
			}
			s.mu.Lock()
		}
	}
	if s.tap != nil {
		// Under the lock: the tap sees events in the queue's order.
		s.tap(e)
	}
	s.q = append(s.q, e)
	s.signal()
}

// dropSuperseded removes the undelivered event that e replaces, so e
// takes its place at the end: the reader sees events in the order they
// happened, minus superseded progress.
func (s *Stream) dropSuperseded(host, kind string) {
	for i, old := range s.q {
		if l, ok := old.(latest); ok && old.Host() == host && l.stateKind() == kind {
			s.q = append(s.q[:i], s.q[i+1:]...)
			return
		}
	}
}

// end marks the stream complete: Next returns false once it is empty.
func (s *Stream) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	s.signal()
}

// signal wakes everyone waiting for a change; called with mu held.
func (s *Stream) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Next returns the next event, waiting for one. It returns false when the
// operation has ended and every event was read, or when ctx is done (the
// reader's own deadline; the operation goes on until its context ends).
func (s *Stream) Next(ctx context.Context) (Event, bool) {
	b, ok := s.NextBatch(ctx, 1)
	if !ok {
		return nil, false
	}
	return b[0], true
}

// NextBatch returns the events waiting, at most limit (at least one),
// after waiting for the first as Next does: a reader that redraws a
// screen takes what piled up since its last read in one call, rather than
// waking up once per log line. It returns false when the operation has
// ended and every event was read, or when ctx is done.
func (s *Stream) NextBatch(ctx context.Context, limit int) ([]Event, bool) {
	s.mu.Lock()
	for len(s.q) == 0 && !s.ended {
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	if len(s.q) == 0 {
		return nil, false
	}
	n := min(len(s.q), max(limit, 1))
	batch := make([]Event, n)
	copy(batch, s.q)
	clear(s.q[:n]) // the queue's array must not keep delivered events alive
	s.q = s.q[n:]
	s.signal()
	return batch, true
}

// All ranges over the events until the operation has ended. Breaking out
// of the loop stops reading; cancel the operation's context too, or its
// hosts wait for a reader once the buffer is full.
func (s *Stream) All() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for {
			e, ok := s.Next(context.Background())
			if !ok || !yield(e) {
				return
			}
		}
	}
}
