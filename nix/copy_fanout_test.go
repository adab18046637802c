package nix

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

// lockstep tracks what a producer wrote and what two readers consumed.
type lockstep struct {
	mu       sync.Mutex
	cond     *sync.Cond
	produced int
	fast     int  // bytes the fast import read
	fastEOF  bool // the fast import reached the end
	slow     int  // bytes the slow import read
	ahead    int  // largest produced-slow seen before a write
}

// producer writes total bytes, 4 KiB at a time, recording before each
// write how far it has got ahead of the slow import.
type producer struct {
	l     *lockstep
	total int
}

func (p producer) Run(_ context.Context, c Cmd) error {
	buf := make([]byte, 4<<10)
	for p.l.produced < p.total {
		p.l.mu.Lock()
		p.l.ahead = max(p.l.ahead, p.l.produced-p.l.slow)
		p.l.mu.Unlock()
		n, err := c.Stdout.Write(buf)
		if err != nil {
			return err
		}
		p.l.mu.Lock()
		p.l.produced += n
		p.l.mu.Unlock()
	}
	return nil
}

// importer reads its stdin to the end; the slow one never reads until
// the fast one is ahead of it (or done), so it is always the laggard.
type importer struct {
	l    *lockstep
	slow bool
}

func (im importer) Run(_ context.Context, c Cmd) error {
	buf := make([]byte, 1<<10)
	for {
		l := im.l
		if im.slow {
			l.mu.Lock()
			for l.fast <= l.slow && !l.fastEOF {
				l.cond.Wait()
			}
			l.mu.Unlock()
		}
		n, err := c.Stdin.Read(buf)
		l.mu.Lock()
		if im.slow {
			l.slow += n
		} else {
			l.fast += n
			l.fastEOF = err != nil
		}
		l.cond.Broadcast()
		l.mu.Unlock()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// TestFanoutKeepsPace: the export never gets ahead of the slowest import
// (nothing is buffered for a slow host), and both imports get the whole
// stream.
func TestFanoutKeepsPace(t *testing.T) {
	l := &lockstep{}
	l.cond = sync.NewCond(&l.mu)
	const total = 2 << 20
	fast := &member{runner: importer{l: l}, c: newCounter(nil, nil)}
	slow := &member{runner: importer{l: l, slow: true}, c: newCounter(nil, nil)}
	exportFanout(context.Background(), producer{l: l, total: total}, []*member{fast, slow}, []string{pTop})
	if fast.err != nil || slow.err != nil {
		t.Fatalf("errors: %v, %v", fast.err, slow.err)
	}
	if l.fast != total || l.slow != total || fast.c.sent() != total || slow.c.sent() != total {
		t.Errorf("fast read %d, slow %d (counted %d, %d), want %d each", l.fast, l.slow, fast.c.sent(), slow.c.sent(), total)
	}
	// The slow import counts what it read once its read returned, just
	// after the write it ended did: up to one read (1 KiB) behind.
	if l.ahead > 1<<10 {
		t.Errorf("the export got %d bytes ahead of the slow import before a write, want at most 1 KiB", l.ahead)
	}
}
