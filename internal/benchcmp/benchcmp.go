// Package benchcmp times nixdeck against the tool it is measured by, in
// the same benchmark run, so that both see the same machine load. The two
// alternate, one run of each per iteration, and the order flips every
// iteration so that neither always runs on the other's warm cache. Only
// tests import it.
package benchcmp

import (
	"bytes"
	"os/exec"
	"slices"
	"testing"
	"time"
)

// Side is one contender: a name for the metrics and a function that does
// the work once and returns how long the measured part took (setup such
// as emptying a store between runs stays outside it).
type Side struct {
	Name string
	Run  func() time.Duration
}

// Result is the median time of each side and their ratio, ours/theirs.
type Result struct {
	Ours, Theirs time.Duration
	Ratio        float64
}

// Compare runs each side once to warm up, then b.N times each,
// alternating. It reports both medians ("<name>-ms") and the ratio, and
// fails the benchmark when the ratio is above target (with at least 3
// runs, so that `-benchtime 1x` smoke runs do not judge).
func Compare(b *testing.B, ours, theirs Side, target float64) Result {
	b.Helper()
	ours.Run()
	theirs.Run()
	times := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		order := []Side{ours, theirs}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			times[s.Name] = append(times[s.Name], s.Run())
		}
	}
	b.StopTimer()
	r := Result{Ours: Median(times[ours.Name]), Theirs: Median(times[theirs.Name])}
	r.Ratio = float64(r.Ours) / float64(r.Theirs)
	b.ReportMetric(ms(r.Ours), ours.Name+"-ms")
	b.ReportMetric(ms(r.Theirs), theirs.Name+"-ms")
	b.ReportMetric(r.Ratio, "ratio")
	b.Logf("%d runs each: %s median %v, %s median %v, ratio %.2f (target ≤ %.2f)", b.N,
		ours.Name, r.Ours.Round(100*time.Microsecond), theirs.Name, r.Theirs.Round(100*time.Microsecond), r.Ratio, target)
	if b.N >= 3 && r.Ratio > target {
		b.Errorf("%s took %.2f× the time of %s, above the target %.2f", ours.Name, r.Ratio, theirs.Name, target)
	}
	return r
}

// Command returns a Run function that starts argv (with env added to the
// environment) and times it until it exits; a failure fails the benchmark
// with the command's output.
func Command(b *testing.B, env []string, argv ...string) func() time.Duration {
	return func() time.Duration {
		cmd := exec.Command(argv[0], argv[1:]...)
		if env != nil {
			cmd.Env = append(cmd.Environ(), env...)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out.String())
		}
		return d
	}
}

// Median returns the middle of ds (the upper one of an even count).
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
