package nix

import "testing"

// SetOrderAlways makes closure queries compute nix-store -qR's order even
// when no spelling needs it, until the test ends.
func SetOrderAlways(t testing.TB) {
	orderAlways = true
	t.Cleanup(func() { orderAlways = false })
}
