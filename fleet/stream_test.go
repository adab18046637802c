package fleet

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"nixdeck/nix"
)

// progressHost emits lines log lines and steps copy progress values,
// one line every steps/lines values, then closes produced.
func progressHost(lines, steps int, produced chan struct{}) HostFunc {
	return func(ctx context.Context, h *HostRun) error {
		for i := range steps {
			if i%(steps/lines) == 0 {
				h.Log("copy")(strconv.Itoa(i / (steps / lines)))
			}
			h.Emit(CopyEvent{EventBase: h.Base(), CopyProgress: nix.CopyProgress{BytesDone: int64(i + 1), BytesTotal: int64(steps)}})
		}
		close(produced)
		return nil
	}
}

// readProgress reads s to its end and returns the log lines and the
// progress values it delivered, failing on values that go backwards.
func readProgress(t *testing.T, s *Stream) (lines []string, progress []int64) {
	t.Helper()
	for e := range s.All() {
		switch e := e.(type) {
		case LogEvent:
			lines = append(lines, e.Line)
		case CopyEvent:
			if n := len(progress); n > 0 && e.BytesDone <= progress[n-1] {
				t.Errorf("progress went from %d to %d", progress[n-1], e.BytesDone)
			}
			progress = append(progress, e.BytesDone)
		}
	}
	return lines, progress
}

func checkLines(t *testing.T, lines []string, want int) {
	t.Helper()
	if len(lines) != want {
		t.Fatalf("%d log lines, want all %d", len(lines), want)
	}
	for i, l := range lines {
		if l != strconv.Itoa(i) {
			t.Fatalf("line %d is %q: lines lost or out of order", i, l)
		}
	}
}

// A reader that has not read yet while a host made 1000 steps of
// progress and 100 log lines gets every line, in order, and only the
// latest progress, after the last line as it happened.
func TestStreamCoalescesProgressKeepsLines(t *testing.T) {
	produced := make(chan struct{})
	s := engine(t, fakeConnector{}, 1).RunHosts(context.Background(), "copy", nodes("web1"), progressHost(100, 1000, produced))
	// A slow reader: nothing read until the host is done producing. Were
	// progress queued rather than coalesced, the host would wait for the
	// reader once the buffer is full.
	select {
	case <-produced:
	case <-time.After(time.Minute):
		t.Fatal("the host waits for the reader: progress is queued, not coalesced")
	}
	lines, progress := readProgress(t, s)
	checkLines(t, lines, 100)
	if len(progress) != 1 || progress[0] != 1000 {
		t.Errorf("progress delivered %v, want only the final 1000", progress)
	}
}

// More lines than the buffer holds wait for the reader rather than being
// lost; the final progress value always arrives.
func TestStreamLinesPastTheBufferWait(t *testing.T) {
	produced := make(chan struct{})
	lines := 3 * streamBuffer
	s := engine(t, fakeConnector{}, 1).RunHosts(context.Background(), "copy", nodes("web1"), progressHost(lines, 4*lines, produced))
	got, progress := readProgress(t, s)
	<-produced
	checkLines(t, got, lines)
	if n := len(progress); n == 0 || progress[n-1] != int64(4*lines) || n > 4*lines {
		t.Errorf("%d progress values ending %v, want at most %d ending with %d", n, progress[max(n-1, 0):], 4*lines, 4*lines)
	}
}

// Events from several hosts keep each host's order, and one host's
// progress never replaces another's.
func TestStreamProgressIsPerHost(t *testing.T) {
	ready := make(chan struct{})
	e := engine(t, fakeConnector{}, 2)
	var names = []string{"web1", "web2"}
	started := make(chan struct{}, 2)
	s := e.RunHosts(context.Background(), "copy", nodes(names...), func(ctx context.Context, h *HostRun) error {
		for i := range 50 {
			h.Emit(CopyEvent{EventBase: h.Base(), CopyProgress: nix.CopyProgress{PathsDone: i + 1, PathsTotal: 50}})
		}
		started <- struct{}{}
		<-ready
		return nil
	})
	<-started
	<-started
	close(ready)
	last := map[string]int{}
	for ev := range s.All() {
		if c, ok := ev.(CopyEvent); ok {
			last[c.Host()] = c.PathsDone
		}
	}
	if fmt.Sprint(last) != "map[web1:50 web2:50]" {
		t.Errorf("last progress per host %v, want 50 each", last)
	}
}

// NextBatch hands over what waits, up to its limit, in order: a host that
// produced more lines than the buffer holds gets every one of them through
// batches, none larger than asked for; after the end it says so.
func TestStreamNextBatch(t *testing.T) {
	produced := make(chan struct{})
	lines := 3 * streamBuffer
	s := engine(t, fakeConnector{}, 1).RunHosts(context.Background(), "copy", nodes("web1"), progressHost(lines, lines, produced))
	got := readBatches(t, s, 100)
	<-produced
	checkLines(t, got, lines)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if b, ok := newStream(context.Background()).NextBatch(ctx, 10); ok || b != nil {
		t.Errorf("NextBatch on a cancelled reader gave %v, %v", b, ok)
	}
}

// What piled up while the reader was away comes in one batch of the limit.
func TestStreamNextBatchTakesWhatWaits(t *testing.T) {
	produced := make(chan struct{})
	s := engine(t, fakeConnector{}, 1).RunHosts(context.Background(), "copy", nodes("web1"), progressHost(100, 100, produced))
	<-produced // OpStarted, phases and 100 lines wait, fewer than the buffer holds
	b, ok := s.NextBatch(context.Background(), 50)
	if !ok || len(b) != 50 {
		t.Fatalf("first batch %d events (%v), want the limit, 50", len(b), ok)
	}
	if _, first := b[0].(OpStarted); !first {
		t.Errorf("the batch starts with %T, want OpStarted", b[0])
	}
	readBatches(t, s, 50)
}

// readBatches reads s to its end in batches of at most limit and returns
// the log lines.
func readBatches(t *testing.T, s *Stream, limit int) (lines []string) {
	t.Helper()
	for {
		b, ok := s.NextBatch(context.Background(), limit)
		if !ok {
			return lines
		}
		if len(b) == 0 || len(b) > limit {
			t.Fatalf("a batch of %d events, want 1 to %d", len(b), limit)
		}
		for _, e := range b {
			if l, ok := e.(LogEvent); ok {
				lines = append(lines, l.Line)
			}
		}
	}
}
