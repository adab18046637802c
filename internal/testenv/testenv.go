// Package testenv holds the one rule for a test that needs something this
// machine may lack (root, a program, a lab): on a developer's machine the
// test is skipped with the reason; under CI (CI=true) it fails, because CI
// must run every test and a silent skip there would hide a broken setup.
// Tests and test helper packages import it; the nixdeck binary never does.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// OnCI reports whether the tests run under CI (CI=true).
func OnCI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because the machine lacks what the message says:
// a skip, or a failure under CI.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if OnCI() {
		tb.Fatalf("CI=true but %s", msg)
	}
	tb.Skip(msg)
}

// NeedRoot ends the test (see Missing) unless it runs as root; why says
// what root is needed for.
func NeedRoot(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Missing(tb, "not root: %s", why)
	}
}

// NeedCommands ends the test (see Missing) unless every named program is
// on PATH.
func NeedCommands(tb testing.TB, names ...string) {
	tb.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Missing(tb, "%s is missing: %v", n, err)
		}
	}
}
