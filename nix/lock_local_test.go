package nix_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"nixdeck/nix"
)

// lockHost is a private /run (see privateRun) that the lock scripts run in.
type lockHost struct {
	r      nsRunner
	runDir string // its /run/nixdeck, as seen from the test
}

func newLockHost(t *testing.T) lockHost {
	needRoot(t)
	r, _, runDir := privateRun(t, "")
	return lockHost{r: r, runDir: runDir}
}

func (h lockHost) acquire(t *testing.T, op string, brk bool, stale time.Duration) (*nix.LockHolder, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return nix.AcquireLock(ctx, h.r, nix.LockRequest{OpID: op, Owner: "op-" + op + "@ops", PID: 4242, Break: brk, StaleAfter: stale})
}

func (h lockHost) release(t *testing.T, op string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return nix.ReleaseLock(ctx, h.r, "", op)
}

// owner reads the lock's owner file; "" when the lock is free.
func (h lockHost) owner(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(h.runDir, "lock", "owner"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	} else if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func heldBy(t *testing.T, err error, op string) *nix.LockHeldError {
	t.Helper()
	var held *nix.LockHeldError
	if !errors.As(err, &held) || held.OpID != op || !strings.HasPrefix(held.Holder, "op-"+op+"@ops pid=4242 op="+op+" since=") {
		t.Fatalf("error %v, want the lock held by %s", err, op)
	}
	return held
}

func TestLockLocal(t *testing.T) {
	h := newLockHost(t)
	if _, err := h.acquire(t, "deploy-a", false, 0); err != nil {
		t.Fatal(err)
	}
	line := h.owner(t)
	since, err := time.Parse(time.RFC3339, strings.TrimSuffix(line[strings.Index(line, "since=")+6:], "\n"))
	if !strings.HasPrefix(line, "op-deploy-a@ops pid=4242 op=deploy-a since=") || err != nil || time.Since(since).Abs() > time.Minute {
		t.Fatalf("owner %q", line)
	}
	for dir, mode := range map[string]os.FileMode{"lock": 0o755, "deploy-a": 0o700} {
		if st, err := os.Stat(filepath.Join(h.runDir, dir)); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v, want mode %v", dir, err, mode)
		}
	}
	if _, err := h.acquire(t, "deploy-a", false, 0); err != nil {
		t.Errorf("taking our own lock again: %v", err)
	}

	_, err = h.acquire(t, "deploy-b", false, 0)
	heldBy(t, err, "deploy-a")
	_, err = h.acquire(t, "deploy-b", true, time.Hour)
	if held := heldBy(t, err, "deploy-a"); held.Over || !strings.Contains(held.Reason, "still running") {
		t.Errorf("break of a running operation's young lock: %+v", held)
	}

	// An hour later by the lock's clock, it is stale.
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(h.runDir, "lock"), old, old); err != nil {
		t.Fatal(err)
	}
	broke, err := h.acquire(t, "deploy-b", true, time.Hour)
	if err != nil || broke == nil || broke.OpID != "deploy-a" || broke.Owner != "op-deploy-a@ops" || broke.PID != 4242 {
		t.Fatalf("break of a stale lock = %+v, %v", broke, err)
	}
	if !strings.Contains(h.owner(t), " op=deploy-b ") {
		t.Errorf("owner after the break: %q", h.owner(t))
	}

	if err := h.release(t, "deploy-a"); !errors.Is(err, nix.ErrLockLost) || !strings.Contains(err.Error(), "op=deploy-b") {
		t.Errorf("release by the broken holder: %v", err)
	}
	if err := h.release(t, "deploy-b"); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"lock", "deploy-b"} {
		if _, err := os.Stat(filepath.Join(h.runDir, dir)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after the release: %v", dir, err)
		}
	}
	if err := h.release(t, "deploy-b"); !errors.Is(err, nix.ErrLockLost) {
		t.Errorf("second release: %v", err)
	}
}

// TestLockBreakOver: a lock whose operation has recorded a final status,
// or whose run directory is gone, may be broken at any age; one whose
// switch awaits its confirmation may not.
func TestLockBreakOver(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status string // "" removes the run directory
		breaks bool
	}{
		{name: "finished", status: "activate 0", breaks: true},
		{name: "rolled back", status: "rolled-back 0 unconfirmed", breaks: true},
		{name: "run directory gone", breaks: true},
		{name: "awaiting confirmation", status: "awaiting 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newLockHost(t)
			if _, err := h.acquire(t, "deploy-a", false, 0); err != nil {
				t.Fatal(err)
			}
			run := filepath.Join(h.runDir, "deploy-a")
			var err error
			if tt.status == "" {
				err = os.Remove(run)
			} else {
				err = os.WriteFile(filepath.Join(run, "status"), []byte(tt.status+"\n"), 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			broke, err := h.acquire(t, "deploy-b", true, 0)
			if tt.breaks && (err != nil || broke == nil || broke.OpID != "deploy-a") {
				t.Fatalf("break = %+v, %v", broke, err)
			}
			if !tt.breaks {
				heldBy(t, err, "deploy-a")
			}
		})
	}
}

// TestLockRefusedWhileSwitching holds NixOS's switch lock as
// switch-to-configuration does (flock) and tries to take the host lock.
func TestLockRefusedWhileSwitching(t *testing.T) {
	h := newLockHost(t)
	f, err := os.Create(filepath.Join(filepath.Dir(h.runDir), "nixos", "switch-to-configuration.lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := h.acquire(t, "deploy-a", false, 0); !errors.Is(err, nix.ErrSwitchLockHeld) {
		t.Fatalf("AcquireLock() while switching = %v", err)
	}
	if h.owner(t) != "" {
		t.Error("the lock was taken anyway")
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if _, err := h.acquire(t, "deploy-a", false, 0); err != nil {
		t.Errorf("AcquireLock() once the switch ended: %v", err)
	}
}
