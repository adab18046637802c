package closurebench

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	"nixdeck/internal/benchcmp"
)

// BenchmarkDiff compares whole processes on two ~2,700-path closures:
// `nixdeck diff A B` against `nix store diff-closures A B`, alternating,
// one run of each per iteration after a warm-up (benchcmp.Compare). It
// reports both medians and their ratio; the target is a ratio of at most 0.5.
func BenchmarkDiff(b *testing.B) {
	benchDiff(b, 0.5)
}

// BenchmarkDiffNoDB compares the CLI fallback, `nixdeck diff --no-db A B`
// (what runs when the Nix database cannot be read), with diff-closures
// on the pair BenchmarkDiff uses, after checking that it prints what
// `nixdeck diff A B` prints from the database. The target is a ratio of
// at most 1.0, close enough that a shared machine's load, which moves
// within seconds, decides a comparison of two medians: the two run in
// pairs, back to back, and the median of 31 pairs' ratios or more (up to
// 101 while its 95% interval holds the target) is judged
// (benchcmp.ComparePaired).
func BenchmarkDiffNoDB(b *testing.B) {
	a, c := Pair(b, 2700)
	bin := buildNixdeck(b, "", b.TempDir())
	fromDB, err := exec.Command(bin, "diff", a, c).Output()
	if err != nil {
		b.Fatalf("nixdeck diff: %v", err)
	}
	if noDB, err := exec.Command(bin, "diff", "--no-db", a, c).Output(); err != nil || !bytes.Equal(noDB, fromDB) {
		b.Fatalf("nixdeck diff --no-db (%v) prints\n%s\nnot what the database gives:\n%s", err, noDB, fromDB)
	}
	benchcmp.ComparePaired(b,
		benchcmp.Side{Name: "nixdeck", Run: benchcmp.Command(b, nil, bin, "diff", "--no-db", a, c)},
		diffClosures(b, a, c), 1.0, benchcmp.Paired{Min: 31, Max: 101})
}

// benchDiff times `nixdeck diff FLAGS A B` against diff-closures on the
// same pair and fails when the ratio of the medians exceeds target.
func benchDiff(b *testing.B, target float64, flags ...string) {
	a, c := Pair(b, 2700)
	bin := buildNixdeck(b, "", b.TempDir())
	nixdeck := append(append([]string{bin, "diff"}, flags...), a, c)
	benchcmp.Compare(b, benchcmp.Side{Name: "nixdeck", Run: benchcmp.Command(b, nil, nixdeck...)}, diffClosures(b, a, c), target)
}

// diffClosures is the side both diff benchmarks measure nixdeck by:
// `nix store diff-closures A B`.
func diffClosures(b *testing.B, a, c string) benchcmp.Side {
	return benchcmp.Side{Name: "diff-closures", Run: benchcmp.Command(b, nil, "nix", "--extra-experimental-features", "nix-command", "store", "diff-closures", a, c)}
}

// buildNixdeck builds nixdeck from the source tree in src ("" for this
// one) into dir and returns the binary.
func buildNixdeck(b *testing.B, src, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "nixdeck")
	build := exec.Command("go", "build", "-o", bin, "nixdeck")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build of nixdeck in %q: %v\n%s", src, err, out)
	}
	return bin
}
