package main

import (
	"os"
	"strings"
	"testing"
)

// runStderr runs nixdeck with args and stdin from /dev/null, and returns
// its exit code and what it wrote to stderr.
func runStderr(t *testing.T, args ...string) (int, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	savedErr, savedIn := os.Stderr, os.Stdin
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	os.Stderr, os.Stdin = f, null
	code := run(args)
	os.Stderr, os.Stdin = savedErr, savedIn
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// nixdeck with no command is the console, which needs a terminal: without
// one it says what to use instead (exit 2), before reading the fleet
// file; a bad --log-lines is refused first.
func TestConsoleNeedsATerminal(t *testing.T) {
	for _, args := range [][]string{nil, {"console"}, {"--log-lines", "5"}, {"-f", "/nonexistent/fleet.yaml"}} {
		code, out := runStderr(t, args...)
		if code != 2 || !strings.Contains(out, "console: stdin and stdout must be a terminal") {
			t.Errorf("nixdeck %q: exit %d, stderr %q", args, code, out)
		}
	}
	if code, out := runStderr(t, "--log-lines", "0"); code != 2 || !strings.Contains(out, "--log-lines 0: want 1 or more") {
		t.Errorf("--log-lines 0: exit %d, stderr %q", code, out)
	}
}
