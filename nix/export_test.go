package nix

// What the external tests (package nix_test) share with the internal
// ones: they import ui/styles, which imports nix, so they cannot live in
// package nix.
var (
	// GoldenClosures are the systems of the golden diffs.
	GoldenClosures = goldenClosures
	// Golden compares with a file in testdata (-update-diff rewrites it).
	Golden = golden
)
