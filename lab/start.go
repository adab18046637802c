package lab

import (
	"context"
	"os"
	"testing"
	"time"
)

// Start brings up a fresh n-host lab in t.TempDir() for an integration
// test and takes it down in t.Cleanup. When the machine cannot run a lab
// (not root, Nix or sshd missing) the test is skipped with the reason, or
// fails when CI=true, since CI must run every lab test.
func Start(t testing.TB, n int) *Lab {
	t.Helper()
	if err := Check(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("lab: %v", err)
		}
		t.Skipf("lab: %v", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := Up(ctx, Options{Dir: dir, Hosts: n})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Down(ctx); err != nil {
			t.Errorf("lab down: %v", err)
		}
	})
	return l
}
