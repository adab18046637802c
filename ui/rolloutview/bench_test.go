package rolloutview

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"nixdeck/fleet"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// thousand is a rollout of 1,000 hosts in waves of 200, the second at
// work: 200 done, 100 copying, 100 activating with a log line each.
func thousand(st *styles.Styles) Model {
	var hosts []string
	for i := range 1000 {
		hosts = append(hosts, fmt.Sprintf("node%04d.dc1.example.net", i))
	}
	m := New(st, keys.Default())
	m.SetSize(160, 48)
	m.SetBudget(10)
	apply(&m, plan(hosts, nil, 200))
	for i, h := range hosts[:400] {
		switch {
		case i < 200:
			apply(&m, phases(h, 1, fleet.PhaseConnecting, fleet.PhaseCopying, fleet.PhaseActivating), done(h, 9, fleet.OutcomeDone, "", false))
		case i < 300:
			apply(&m, phases(h, 10, fleet.PhaseConnecting, fleet.PhaseCopying), one(copying(h, 12, i, 400, int64(i)<<20, 400<<20)))
		default:
			apply(&m, phases(h, 10, fleet.PhaseConnecting, fleet.PhaseActivating), one(logLine(h, 12, "restarting the following units: nginx.service")))
		}
	}
	m.SetNow(t0.Add(time.Minute))
	return m
}

// BenchmarkView renders a frame of the rollout pane at 160x48 for 1,000
// hosts, the highlight among the copying ones.
func BenchmarkView(b *testing.B) {
	m := thousand(styles.New(colorprofile.ANSI))
	m = press(m, "home", "pgdown", "pgdown", "pgdown", "pgdown", "pgdown")
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		_ = m.View()
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	med := times[len(times)/2]
	b.ReportMetric(float64(med.Nanoseconds())/1e6, "median-ms")
	if med > 5*time.Millisecond {
		b.Errorf("median frame %v, want under 5ms", med)
	}
}

// BenchmarkApply takes one host event into a 1,000-host rollout, a
// phase change (which moves the followed highlight) every tenth.
func BenchmarkApply(b *testing.B) {
	m := thousand(styles.New(colorprofile.ANSI))
	evs := []fleet.Event{
		fleet.PhaseEvent{EventBase: at("node0450.dc1.example.net", 20), Phase: fleet.PhaseActivating},
	}
	for range 9 {
		evs = append(evs, logLine("node0350.dc1.example.net", 20, "a line of activation output"))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Apply(evs[i%len(evs)])
		i++
	}
}
