package closurebench

import (
	"os/exec"
	"path/filepath"
	"slices"
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
	times := map[string][]time.Duration{}
	run := func(name string) time.Duration {
		start := time.Now()
		if out, err := exec.Command(cmds[name][0], cmds[name][1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(start)
	}
	run("nixdeck")
	run("diff-closures")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		order := []string{"nixdeck", "diff-closures"}
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			times[name] = append(times[name], run(name))
		}
	}
	b.StopTimer()
	nd, dc := median(times["nixdeck"]), median(times["diff-closures"])
	b.ReportMetric(float64(nd.Microseconds())/1000, "nixdeck-ms")
	b.ReportMetric(float64(dc.Microseconds())/1000, "diff-closures-ms")
	b.ReportMetric(float64(nd)/float64(dc), "ratio")
	b.Logf("%d runs each: %v median %v, nix store diff-closures median %v, ratio %.2f",
		b.N, cmds["nixdeck"][1:len(cmds["nixdeck"])-2], nd.Round(time.Millisecond), dc.Round(time.Millisecond), float64(nd)/float64(dc))
	if b.N >= 3 && float64(nd) > target*float64(dc) {
		b.Errorf("nixdeck %v took %v, more than %.1f× diff-closures' %v", cmds["nixdeck"][1:len(cmds["nixdeck"])-2], nd, target, dc)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
