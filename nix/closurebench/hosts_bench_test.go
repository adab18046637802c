package closurebench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/benchcmp"
	"nixdeck/lab"
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
// (benchcmp.Compare); the target is a ratio of at most 0.6. Every host's
// next build is release b while it runs release a, so that each diff
// reads the host's closure (a host already on its new system needs none);
// the lab does not change between runs, so after the warm-up the builds
// are cached and both commands do the same work: evaluate, then read 50
// closures over SSH.
func BenchmarkDiffHosts(b *testing.B) {
	nixtest.NeedNix(b)
	l := labtest.Start(b, 50)
	if err := l.Change("*", lab.ChangeOptions{Release: "b"}); err != nil {
		b.Fatal(err)
	}
	fleetPath := plainFleet(b, l)
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
			cmd := exec.Command(bins[name], "-f", fleetPath, "diff", "--on", "*")
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

// plainFleet writes a fleet file for l's hosts with only the keys that
// every nixdeck since baseRevision reads (the lab's own file may use newer
// ones, which an older nixdeck refuses) and returns its path.
func plainFleet(b *testing.B, l *lab.Lab) string {
	var s strings.Builder
	s.WriteString("flake: ./flake\ndefaults:\n  user: root\n  identity: ./id_ed25519\n  known_hosts: ./known_hosts\nnodes:\n")
	for _, h := range l.Hosts {
		fmt.Fprintf(&s, "  %s:\n    host: 127.0.0.1\n    port: %d\n", h.Name, h.Port)
	}
	path := filepath.Join(l.Dir, "bench-fleet.yaml")
	if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
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
