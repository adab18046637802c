package closurebench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"nixdeck/nix/nixtest"
)

// Pair builds two consecutive releases of a ~n-path system; it returns gc
// root links to their top levels, which live as long as the test.
func Pair(tb testing.TB, n int) (a, b string) {
	tb.Helper()
	nixtest.NeedNix(tb)
	dir := tb.TempDir()
	sa := Generate("nixos-system-bench-24.05.20240901.8f2e1a", n, 1)
	sb := Evolve(sa, 0.08, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, s := range []Spec{sa, sb} {
		if _, err := Build(ctx, dir, s); err != nil {
			tb.Fatal(err)
		}
	}
	return filepath.Join(dir, sa.Name), filepath.Join(dir, sb.Name)
}
