package logview

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// benchLines are lines as an activation and a build print them, 60-120
// bytes, a few with something to escape.
func benchLines(n int) []string {
	out := make([]string, n)
	for i := range out {
		switch i % 10 {
		case 0:
			out[i] = fmt.Sprintf("copying path '/nix/store/%032d-glibc-2.39-52' to 'ssh://web%03d'...", i, i%100)
		case 1:
			out[i] = fmt.Sprintf("\x1b[1mwarning:\x1b[0m unit %d took longer than expected", i)
		default:
			out[i] = fmt.Sprintf("activate: restarting the following units: nginx.service, unit-%d.service", i)
		}
	}
	return out
}

// benchHosts names n hosts.
func benchHosts(n int) []string {
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("web%03d", i)
	}
	return hosts
}

// median is the middle of the durations.
func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkView renders a frame of the log pane at 160x48 with 100 hosts
// of 2,000 lines each buffered (200,000 lines), following the focused
// host while a search marks its matches: the bound is a median
// under 5 ms.
func BenchmarkView(b *testing.B) {
	hosts := benchHosts(100)
	buf := NewBuffers(0)
	lines := benchLines(2000)
	for _, h := range hosts {
		for _, l := range lines {
			buf.Append(h, h+": "+l) // a string of its own, as each host's would be
		}
	}
	m := New(styles.New(colorprofile.ANSI), keys.Default(), buf)
	m.SetHosts(hosts)
	m.SetSize(160, 48)
	m = press(m, "]", "/")
	m = typeText(m, "warning")
	m = press(m, "enter")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		_ = m.View()
		times = append(times, time.Since(start))
	}
	med := median(times)
	b.ReportMetric(float64(med.Nanoseconds())/1e6, "median-ms")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	if med > 5*time.Millisecond {
		b.Errorf("median frame %v, want under 5ms", med)
	}
}

// BenchmarkAppend appends lines round the 100 hosts, one per op: the cost
// the root model pays per log line, and what it allocates.
func BenchmarkAppend(b *testing.B) {
	hosts := benchHosts(100)
	lines := benchLines(1000)
	buf := NewBuffers(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		buf.Append(hosts[i%len(hosts)], lines[i%len(lines)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkTick is one 20 Hz redraw while 10,000 lines a second arrive
// across 100 hosts: the 500 lines of the tick appended, then a frame.
// Its time is what a key press can wait before the frame that shows it.
func BenchmarkTick(b *testing.B) {
	hosts := benchHosts(100)
	lines := benchLines(1000)
	buf := NewBuffers(0)
	m := New(styles.New(colorprofile.ANSI), keys.Default(), buf)
	m.SetHosts(hosts)
	m.SetSize(160, 48)
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := time.Now()
		for range 10_000 / 20 {
			buf.Append(hosts[i%len(hosts)], lines[i%len(lines)])
			i++
		}
		m = press(m, "k")
		_ = m.View()
		times = append(times, time.Since(start))
	}
	b.ReportMetric(float64(median(times).Nanoseconds())/1e6, "median-ms")
}
