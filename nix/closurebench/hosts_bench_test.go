package closurebench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/lab"
	"nixdeck/nix/nixtest"
)

// baseRevision is the nixdeck the per-host diff is compared with unless
// $NIXDECK_BENCH_BASE names another git revision: the last one whose
// closure query ran four nix-store processes on each host.
const baseRevision = "18ea579"

// BenchmarkDiffHosts times `nixdeck diff --on '*'` on a 50-host lab
// against the same command of the nixdeck built from baseRevision,
// alternating, one run of each per iteration after a warm-up, and reports
// both medians and their ratio; the target is a ratio of at most 0.6. The
// lab does not change between runs: each host's running system is diffed
// against what its configuration builds (the same system, as nothing
// changed), so after the warm-up the builds are cached and both commands
// do the same work: evaluate, then read 50 closures over SSH.
func BenchmarkDiffHosts(b *testing.B) {
	if err := lab.Check(); err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("lab: %v", err)
		}
		b.Skipf("lab: %v", err)
	}
	nixtest.NeedNix(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "nixdeck")
	if out, err := exec.Command("go", "build", "-o", bin, "nixdeck").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	rev := os.Getenv("NIXDECK_BENCH_BASE")
	if rev == "" {
		rev = baseRevision
	}
	base := buildRevision(b, rev, filepath.Join(dir, "base"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, lab.Options{Dir: filepath.Join(dir, "lab"), Hosts: 50})
	if err != nil {
		b.Fatalf("lab up: %v", err)
	}
	defer func() {
		if err := l.Down(context.WithoutCancel(ctx)); err != nil {
			b.Errorf("lab down: %v", err)
		}
	}()
	// base is the nixdeck of rev.
	bins := map[string]string{"nixdeck": bin, "base": base}
	outs := map[string]string{}
	run := func(name string) time.Duration {
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, bins[name], "-f", l.FleetPath, "diff", "--on", "*")
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s diff: %v\n%s", name, err, errb.String())
		}
		outs[name] = out.String()
		return time.Since(start)
	}
	run("nixdeck")
	run("base")
	// Both must say the same, or the comparison means nothing.
	if outs["nixdeck"] != outs["base"] || strings.Count(outs["nixdeck"], "=== ") != 50 {
		b.Fatalf("the two diffs differ or miss hosts:\n--- nixdeck\n%s\n--- %s\n%s", outs["nixdeck"], rev, outs["base"])
	}
	race(b, "diff --on '*' on 50 hosts (base: "+rev+")", "base", 0.6, run)
}

// buildRevision builds nixdeck as of the git revision rev into dir and
// returns the binary; the benchmark skips when rev cannot be had (a
// source tree without its history).
func buildRevision(b *testing.B, rev, dir string) string {
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
	bin := filepath.Join(dir, "nixdeck")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build of %s: %v\n%s", rev, err, out)
	}
	return bin
}
