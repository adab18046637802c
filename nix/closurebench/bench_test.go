package closurebench

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkDiff compares whole processes on two ~2,700-path closures:
// `nixdeck diff A B` against `nix store diff-closures A B`, alternating,
// one run of each per iteration after a warm-up. It reports both medians
// and their ratio; the target is a ratio of at most 0.5.
func BenchmarkDiff(b *testing.B) {
	benchDiff(b, 0.5)
}

// BenchmarkDiffNoDB is BenchmarkDiff for the CLI fallback, `nixdeck diff
// --no-db A B` (what runs when the Nix database cannot be read): the
// target is a ratio of at most 1.0.
func BenchmarkDiffNoDB(b *testing.B) {
	benchDiff(b, 1.0, "--no-db")
}

// benchDiff times `nixdeck diff FLAGS A B` against diff-closures on the
// same pair and fails when the ratio of the medians exceeds target.
func benchDiff(b *testing.B, target float64, flags ...string) {
	a, c := Pair(b, 2700)
	bin := filepath.Join(b.TempDir(), "nixdeck")
	if out, err := exec.Command("go", "build", "-o", bin, "nixdeck").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	cmds := map[string][]string{
		"nixdeck":       append(append([]string{bin, "diff"}, flags...), a, c),
		"diff-closures": {"nix", "--extra-experimental-features", "nix-command", "store", "diff-closures", a, c},
	}
	run := func(name string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(cmds[name][0], cmds[name][1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(start)
	}
	run("nixdeck")
	run("diff-closures")
	race(b, "nixdeck "+strings.Join(cmds["nixdeck"][1:len(cmds["nixdeck"])-2], " "), "diff-closures", target, run)
}

// race times run("nixdeck") and run(other) alternately, one run of each
// per iteration, the order reversed every other iteration, and reports
// both medians and their ratio (metrics nixdeck-ms, <other>-ms, ratio);
// the benchmark fails when the ratio is above target. what names the
// nixdeck command in messages.
func race(b *testing.B, what, other string, target float64, run func(name string) time.Duration) {
	times := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		order := []string{"nixdeck", other}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			times[name] = append(times[name], run(name))
		}
	}
	b.StopTimer()
	nd, ot := median(times["nixdeck"]), median(times[other])
	ratio := float64(nd) / float64(ot)
	b.ReportMetric(float64(nd.Microseconds())/1000, "nixdeck-ms")
	b.ReportMetric(float64(ot.Microseconds())/1000, other+"-ms")
	b.ReportMetric(ratio, "ratio")
	b.Logf("%d runs each: %s median %v, %s median %v, ratio %.2f", b.N, what, nd.Round(time.Millisecond), other, ot.Round(time.Millisecond), ratio)
	if b.N >= 3 && ratio > target {
		b.Errorf("%s took %v, more than %.1f× %s's %v", what, nd, target, other, ot)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
