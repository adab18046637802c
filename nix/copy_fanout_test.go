package nix

import (
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
	fast     int  // bytes the fast host read
	fastEOF  bool // the fast host reached the end
	slow     int  // bytes the slow host read
	ahead    int  // largest produced-slow seen before a write
}

// read reads r to its end; the slow reader never reads until the fast
// one is ahead of it (or done), so it is always the laggard.
func (l *lockstep) read(r io.Reader, slow bool) error {
	buf := make([]byte, 1<<10)
	for {
		if slow {
			l.mu.Lock()
			for l.fast <= l.slow && !l.fastEOF {
				l.cond.Wait()
			}
			l.mu.Unlock()
		}
		n, err := r.Read(buf)
		l.mu.Lock()
		if slow {
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

// TestFanoutKeepsPace: the stream never gets ahead of the slowest host
// (nothing is buffered for a slow host), and both hosts get all of it.
func TestFanoutKeepsPace(t *testing.T) {
	l := &lockstep{}
	l.cond = sync.NewCond(&l.mu)
	const total = 2 << 20
	fastR, fastW := io.Pipe()
	slowR, slowW := io.Pipe()
	fo := &fanout{outs: []*fanoutPipe{{w: fastW, c: &counter{}}, {w: slowW, c: &counter{}}}}
	errs := make(chan error, 2)
	go func() { errs <- l.read(fastR, false) }()
	go func() { errs <- l.read(slowR, true) }()
	buf := make([]byte, 4<<10)
	for l.produced < total {
		l.mu.Lock()
		l.ahead = max(l.ahead, l.produced-l.slow)
		l.mu.Unlock()
		n, err := fo.Write(buf)
		if err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		l.produced += n
		l.mu.Unlock()
	}
	fastW.Close()
	slowW.Close()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if l.fast != total || l.slow != total || fo.outs[0].c.sent() != total || fo.outs[1].c.sent() != total {
		t.Errorf("fast read %d, slow %d (counted %d, %d), want %d each", l.fast, l.slow, fo.outs[0].c.sent(), fo.outs[1].c.sent(), total)
	}
	// The slow host counts what it read once its read returned, just
	// after the write it ended did: up to one read (1 KiB) behind.
	if l.ahead > 1<<10 {
		t.Errorf("the stream got %d bytes ahead of the slow host before a write, want at most 1 KiB", l.ahead)
	}
}

// TestFanoutDropsAFailedHost: a host whose input closed leaves the
// stream; the writer goes on for the others and stops when none is left.
func TestFanoutDropsAFailedHost(t *testing.T) {
	aR, aW := io.Pipe()
	bR, bW := io.Pipe()
	fo := &fanout{outs: []*fanoutPipe{{w: aW, c: &counter{}}, {w: bW, c: &counter{}}}}
	bR.CloseWithError(errServeEnded)
	got := make(chan []byte)
	go func() { b, _ := io.ReadAll(aR); got <- b }()
	if n, err := fo.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write with one host left = %d, %v", n, err)
	}
	if !errors.Is(fo.outs[1].err, errServeEnded) || fo.outs[0].err != nil {
		t.Errorf("errors %v, %v; want only the closed host's", fo.outs[0].err, fo.outs[1].err)
	}
	aW.Close()
	if b := <-got; string(b) != "hello" {
		t.Errorf("the other host got %q", b)
	}
	if _, err := fo.Write([]byte("more")); !errors.Is(err, errNoImportLeft) {
		t.Errorf("Write with no host left = %v, want errNoImportLeft", err)
	}
}
