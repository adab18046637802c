package remote

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"nixdeck/internal/benchcmp"
	"nixdeck/lab"
)

// BenchmarkFirstCommand measures, on a lab host (a real OpenSSH sshd),
// the time from a new connection's handshake to the first byte of its
// first command's output, with the quick acknowledgements of quickack.go
// and without them, alternating, in the same run. It reports both medians;
// without them sshd's second small reply waits for a delayed ACK.
func BenchmarkFirstCommand(b *testing.B) {
	l := lab.Start(b, 1)
	h := l.Hosts[0]
	t := Target{Name: h.Name, Host: "127.0.0.1", Port: h.Port, User: "root",
		Identity: filepath.Join(l.Dir, "id_ed25519"), KnownHosts: filepath.Join(l.Dir, "known_hosts")}
	firstByte := func(on bool) time.Duration {
		quickAck = on
		defer func() { quickAck = true }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := Dial(ctx, t, Options{SSHConfigPath: "none"})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		out := &firstWrite{}
		start := time.Now()
		if err := c.Run(ctx, Cmd{Argv: []string{"echo", "x"}, Stdout: out}); err != nil {
			b.Fatal(err)
		}
		return out.at().Sub(start)
	}
	firstByte(true)
	firstByte(false)
	var with, without []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		with = append(with, firstByte(true))
		without = append(without, firstByte(false))
	}
	b.StopTimer()
	w, wo := benchcmp.Median(with), benchcmp.Median(without)
	b.ReportMetric(ms(w), "quickack-ms")
	b.ReportMetric(ms(wo), "delayed-ack-ms")
	b.Logf("%d connections each: first output byte after %v with quick ACKs, %v without", b.N, w, wo)
}

// firstWrite records when its first write arrived.
type firstWrite struct {
	mu sync.Mutex
	t  time.Time
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.t.IsZero() {
		f.t = time.Now()
	}
	return len(p), nil
}

func (f *firstWrite) at() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
