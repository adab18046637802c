package remote

import (
	"bytes"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

func TestPIDFilter(t *testing.T) {
	tests := []struct {
		name    string
		writes  []string
		wantPID int
		wantOut string
	}{
		{name: "pid line alone", writes: []string{"nixdeck-pid:4242\n"}, wantPID: 4242},
		{name: "pid line and output together", writes: []string{"nixdeck-pid:17\nerror: boom\n"}, wantPID: 17, wantOut: "error: boom\n"},
		{name: "split across writes", writes: []string{"nix", "deck-pid:9", "9\nwarn", "ing\n"}, wantPID: 99, wantOut: "warning\n"},
		{name: "no pid line", writes: []string{"sh: 1: exec: nope: not found\n"}, wantOut: "sh: 1: exec: nope: not found\n"},
		{name: "short unterminated output", writes: []string{"nix"}, wantOut: "nix"},
		{name: "bad pid", writes: []string{"nixdeck-pid:x\n"}, wantOut: "nixdeck-pid:x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newPIDFilter(&out)
			for _, w := range tt.writes {
				if n, err := p.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			p.Flush()
			if p.PID() != tt.wantPID || out.String() != tt.wantOut {
				t.Errorf("pid %d output %q, want %d %q", p.PID(), out.String(), tt.wantPID, tt.wantOut)
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
