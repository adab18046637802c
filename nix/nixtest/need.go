package nixtest

import (
	"testing"

	"nixdeck/internal/testenv"
)

// NeedNix ends the test unless Nix's commands are on PATH (a skip, a
// failure under CI; see testenv.Missing), and keeps the test's Nix off
// binary caches, which the test machine may not reach.
func NeedNix(tb testing.TB) {
	tb.Helper()
	testenv.NeedCommands(tb, "nix", "nix-build", "nix-store")
	tb.Setenv("NIX_CONFIG", "substituters =")
}
