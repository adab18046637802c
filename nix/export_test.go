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

// ActivateFollowScript follows a run directory until the activation
// records a status (the tests wait for the host's own decisions with it).
var ActivateFollowScript = activateFollowScript
