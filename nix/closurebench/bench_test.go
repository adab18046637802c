package closurebench

import (
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
	bin := buildNixdeck(b, "", b.TempDir())
	nixdeck := append(append([]string{bin, "diff"}, flags...), a, c)
	benchcmp.Compare(b,
		benchcmp.Side{Name: "nixdeck", Run: benchcmp.Command(b, nil, nixdeck...)},
		benchcmp.Side{Name: "diff-closures", Run: benchcmp.Command(b, nil, "nix", "--extra-experimental-features", "nix-command", "store", "diff-closures", a, c)},
		target)
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
