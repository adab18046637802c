// Package labtest starts lab fleets for integration tests. It is apart
// from package lab so that the nixdeck binary, which links lab for
// `nixdeck lab`, does not link package testing.
package labtest

import (
	"context"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/lab"
)

// Start brings up a fresh n-host lab in tb.TempDir() for an integration
// test and takes it down in tb.Cleanup. When the machine cannot run a lab
// (not root, Nix or sshd missing) the test is skipped with the reason, or
// fails under CI (see testenv.Missing).
func Start(tb testing.TB, n int) *lab.Lab {
	tb.Helper()
	if err := lab.Check(); err != nil {
		testenv.Missing(tb, "lab: %v", err)
	}
	dir := tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, lab.Options{Dir: dir, Hosts: n})
	if err != nil {
		tb.Fatalf("lab up: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Down(ctx); err != nil {
			tb.Errorf("lab down: %v", err)
		}
	})
	return l
}
