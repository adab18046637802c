// Package labtest starts lab fleets for integration tests. It is apart
// from package lab so that the nixdeck binary, which links lab for
// `nixdeck lab`, does not link package testing.
package labtest

import (
	"context"
	"os"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/lab"
)

// Start brings up a fresh n-host lab in tb.TempDir() for an integration
// test and takes it down in tb.Cleanup; every host runs the machine's Nix
// and OpenSSH. When the machine cannot run a lab (not root, Nix or sshd
// missing) the test is skipped with the reason, or fails under CI (see
// testenv.Missing).
func Start(tb testing.TB, n int) *lab.Lab {
	tb.Helper()
	return start(tb, lab.Options{Hosts: n})
}

// StartMixed is Start for a mixed lab: its last n/2 hosts run current Nix
// and OpenSSH chrooted in the Debian 13 root (see Root), the others the
// machine's. Tests that must pass on both kinds of host use it.
func StartMixed(tb testing.TB, n int) *lab.Lab {
	tb.Helper()
	Root(tb)
	l := start(tb, lab.Options{Hosts: n, Current: n / 2})
	sts, err := l.Status()
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range sts {
		tb.Logf("lab host %s: Nix %s, OpenSSH %s", s.Name, s.Nix, s.OpenSSH)
	}
	return l
}

// StartWith brings up the lab opts describe (its Dir is the test's
// TempDir, whatever opts says) and takes it down in tb.Cleanup: with
// builders, a binary cache, current-Nix hosts (the root is built first
// when it is not cached). Skips like Start.
func StartWith(tb testing.TB, opts lab.Options) *lab.Lab {
	tb.Helper()
	if opts.Current > 0 || opts.CurrentOn != "" {
		Root(tb)
	}
	return start(tb, opts)
}

// Root returns the current-Nix root, building it first when the machine
// has none (minutes, once: it is cached). A test that needs the root
// builds it rather than skipping; when it cannot (no debootstrap, no
// network) the test is skipped with the reason, or fails under CI.
func Root(tb testing.TB) *lab.Root {
	tb.Helper()
	if err := lab.Check(); err != nil {
		testenv.Missing(tb, "lab: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	r, err := lab.EnsureRoot(ctx, lab.RootOptions{Progress: os.Stderr})
	if err != nil {
		testenv.Missing(tb, "%v", err)
	}
	return r
}

// start brings up the lab opts describe in tb.TempDir().
func start(tb testing.TB, opts lab.Options) *lab.Lab {
	tb.Helper()
	if err := lab.Check(); err != nil {
		testenv.Missing(tb, "lab: %v", err)
	}
	opts.Dir = tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := lab.Up(ctx, opts)
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
