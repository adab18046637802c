package remote

import (
	"bytes"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPGIDFilter(t *testing.T) {
	const tag = "nixdeck-pgid:00ff:"
	tests := []struct {
		name     string
		writes   []string
		wantPGID int
		wantOut  string
	}{
		{name: "group line alone", writes: []string{tag + "4242\n"}, wantPGID: 4242},
		{name: "group line and output together", writes: []string{tag + "17\nerror: boom\n"}, wantPGID: 17, wantOut: "error: boom\n"},
		{name: "split across writes", writes: []string{"nix", "deck-pgid:00", "ff:9", "9\nwarn", "ing\n"}, wantPGID: 99, wantOut: "warning\n"},
		{name: "no group line", writes: []string{"sh: 1: exec: nope: not found\n"}, wantOut: "sh: 1: exec: nope: not found\n"},
		{name: "short unterminated output", writes: []string{"nix"}, wantOut: "nix"},
		{name: "bad group", writes: []string{tag + "x\n"}, wantOut: tag + "x\n"},
		// Only the run's own nonce counts: a command cannot pass a line
		// of its own for the preamble's.
		{name: "another nonce", writes: []string{"nixdeck-pgid:1234:1\n"}, wantOut: "nixdeck-pgid:1234:1\n"},
		{name: "endless first line", writes: []string{tag + strings.Repeat("1", 100)}, wantOut: tag + strings.Repeat("1", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newPGIDFilter("00ff", &out)
			for _, w := range tt.writes {
				if n, err := p.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			p.Flush()
			if p.PGID() != tt.wantPGID || out.String() != tt.wantOut {
				t.Errorf("pgid %d output %q, want %d %q", p.PGID(), out.String(), tt.wantPGID, tt.wantOut)
			}
			select {
			case <-p.decided:
			default:
				t.Error("not decided after Flush")
			}
		})
	}
}

// blockWriter blocks every write until release is closed.
type blockWriter struct {
	entered chan struct{}
	release chan struct{}
	n       atomic.Int32
}

func (b *blockWriter) Write(p []byte) (int, error) {
	b.n.Add(1)
	b.entered <- struct{}{}
	<-b.release
	return len(p), nil
}

// TestGateWriter: a closed gate drops writes, and closing it waits for a
// write in progress, but not for ever (a caller's writer may block).
func TestGateWriter(t *testing.T) {
	b := &blockWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	g := &gateWriter{w: b}
	go g.Write([]byte("x"))
	<-b.entered
	start := time.Now()
	g.close()
	if d := time.Since(start); d < gateWait/2 || d > 3*gateWait {
		t.Errorf("close with a blocked write took %v, want about %v", d, gateWait)
	}
	close(b.release)
	g.Write([]byte("late"))
	if n := b.n.Load(); n != 1 {
		t.Errorf("%d writes reached the writer, want 1 (none after close)", n)
	}
	g2 := &gateWriter{w: io.Discard}
	start = time.Now()
	g2.close()
	// Waiting at all would take gateWait; a loaded machine may take a
	// while without waiting.
	if d := time.Since(start); d >= gateWait/2 {
		t.Errorf("close without a write in progress took %v", d)
	}
}
