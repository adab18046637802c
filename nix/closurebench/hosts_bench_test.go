package closurebench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/benchcmp"
	"nixdeck/lab/labtest"
	"nixdeck/nix/nixtest"
)

// baseRevision is the nixdeck the per-host diff is compared with unless
// $NIXDECK_BENCH_BASE names another git revision: the last one whose
// closure query ran four nix-store processes on each host.
const baseRevision = "18ea579"

// BenchmarkDiffHosts times `nixdeck diff --on '*'` on a 50-host lab
// against the same command of the nixdeck built from baseRevision,
// alternating, one run of each per iteration after a warm-up
// (benchcmp.Compare); the target is a ratio of at most 0.6. The lab does
// not change between runs: each host's running system is diffed against
// what its configuration builds (the same system, as nothing changed), so
// after the warm-up the builds are cached and both commands do the same
// work: evaluate, then read 50 closures over SSH.
func BenchmarkDiffHosts(b *testing.B) {
	nixtest.NeedNix(b)
	l := labtest.Start(b, 50)
	dir := b.TempDir()
	rev := os.Getenv("NIXDECK_BENCH_BASE")
	if rev == "" {
		rev = baseRevision
	}
	bins := map[string]string{"nixdeck": buildNixdeck(b, "", dir), rev: buildNixdeck(b, unpackRevision(b, rev, filepath.Join(dir, "base")), filepath.Join(dir, "base"))}
	outs := map[string]string{}
	side := func(name string) benchcmp.Side {
		return benchcmp.Side{Name: name, Run: func() time.Duration {
			var out, errb bytes.Buffer
			cmd := exec.Command(bins[name], "-f", l.FleetPath, "diff", "--on", "*")
			cmd.Stdout, cmd.Stderr = &out, &errb
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatalf("%s diff: %v\n%s", name, err, errb.String())
			}
			outs[name] = out.String()
			return time.Since(start)
		}}
	}
	// Both must say the same, or the comparison means nothing.
	ours, base := side("nixdeck"), side(rev)
	ours.Run()
	base.Run()
	if outs["nixdeck"] != outs[rev] || strings.Count(outs["nixdeck"], "=== ") != 50 {
		b.Fatalf("the two diffs differ or miss hosts:\n--- nixdeck\n%s\n--- %s\n%s", outs["nixdeck"], rev, outs[rev])
	}
	benchcmp.Compare(b, ours, base, 0.6)
}

// unpackRevision extracts the source tree of the git revision rev into
// dir/src and returns that directory; the benchmark skips when rev cannot
// be had (a source tree without its history).
func unpackRevision(b *testing.B, rev, dir string) string {
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		b.Skipf("no git checkout to build %s from: %v", rev, err)
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	tarball := filepath.Join(dir, "src.tar")
	if out, err := exec.Command("git", "-C", strings.TrimSpace(string(top)), "archive", "--output="+tarball, rev).CombinedOutput(); err != nil {
		b.Skipf("git archive %s: %v %s", rev, err, out)
	}
	if out, err := exec.Command("tar", "-x", "-f", tarball, "-C", src).CombinedOutput(); err != nil {
		b.Fatalf("unpacking %s: %v %s", rev, err, out)
	}
	return src
}
