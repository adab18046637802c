package nix_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
)

// TestMagicRollbackOnLab deploys to a lab host (real sshd, its own store
// and profile, the lab's switch-to-configuration) the way a rollout does:
// lock, copy with a GC root, magic switch confirmed over a fresh SSH
// connection. A switch that stops sshd cannot be confirmed and rolls
// back by itself; so does a hung one. It does so on both hosts of a mixed
// lab, one on the machine's Nix and OpenSSH, one on current ones.
func TestMagicRollbackOnLab(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartMixed(t, 2)
	f, err := fleet.Load(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := remote.NewPool(remote.Options{SSHConfigPath: "none"})
	t.Cleanup(func() { pool.Close() })
	for _, h := range l.Hosts {
		t.Run(h.Name, func(t *testing.T) { testMagicRollback(t, l, pool, f.Node(h.Name).Target()) })
	}
}

// testMagicRollback is TestMagicRollbackOnLab on one host.
func testMagicRollback(t *testing.T, l *lab.Lab, pool *remote.Pool, target remote.Target) {
	name := target.Name
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := pool.Get(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	state := func() *nix.HostState {
		t.Helper()
		s, err := nix.QueryHostState(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fresh := 0
	// deploy builds the host's next system after change and deploys it.
	deploy := func(change lab.ChangeOptions, confirm, timeout time.Duration) (string, nix.ActivateResult, []string, error) {
		t.Helper()
		if err := l.Change(name, change); err != nil {
			t.Fatal(err)
		}
		built, err := l.Build(ctx, []string{name})
		if err != nil {
			t.Fatal(err)
		}
		sys, op := built[name], nix.NewOpID(nix.Switch)
		if _, err := nix.AcquireLock(ctx, r, nix.LockRequest{OpID: op, Owner: nix.LocalOwner(), PID: 1}); err != nil {
			t.Fatal(err)
		}
		root, _ := nix.GCRootPath(op)
		if _, err := nix.Copy(ctx, nix.LocalRunner{}, r, nix.CopyRequest{Paths: []string{sys}, Root: root}); err != nil {
			t.Fatal(err)
		}
		var logs []string
		res, err := nix.Activate(ctx, r, nix.ActivateRequest{Action: nix.Switch, Path: sys, OpID: op, ConfirmTimeout: confirm, Timeout: timeout,
			Log: func(l string) { logs = append(logs, l) },
			Confirm: func(ctx context.Context) (nix.Runner, error) {
				fresh++
				return pool.Fresh(ctx, target)
			}})
		if err := nix.RemoveRoot(ctx, r, root); err != nil {
			t.Error(err)
		}
		if err := nix.ReleaseLock(ctx, r, "", op); err != nil {
			t.Error(err)
		}
		return sys, res, logs, err
	}

	b, res, logs, err := deploy(lab.ChangeOptions{Release: "b"}, time.Minute, 0)
	s := state()
	if err != nil || res.Outcome != nix.OutcomeDone || !res.Confirmed || fresh != 1 || s.Current != b || s.Profile != b {
		t.Fatalf("confirmed switch: %+v, %v after %d fresh connections; running %s\n%s", res, err, fresh, s.Current, strings.Join(logs, "\n"))
	}
	gen := s.ProfileGeneration

	start := time.Now()
	_, res, logs, err = deploy(lab.ChangeOptions{Fault: "breakssh"}, 5*time.Second, 0)
	s = state()
	if err != nil || res.Outcome != nix.OutcomeRolledBack || res.Cause != nix.CauseNoSSH || res.ConfirmErr == nil || s.Current != b || s.ProfileGeneration != gen {
		t.Fatalf("breakssh: %+v, %v; running %s, generation %d; want %s, %d\n%s", res, err, s.Current, s.ProfileGeneration, b, gen, strings.Join(logs, "\n"))
	}
	if took := time.Since(start); took > 5*time.Second+time.Minute {
		t.Errorf("breakssh: back after %s", took)
	}
	// The previous system brought sshd back: a new login works.
	if _, err := pool.Fresh(ctx, target); err != nil {
		t.Errorf("no login after the rollback: %v", err)
	}

	_, res, logs, err = deploy(lab.ChangeOptions{Fault: "hang"}, time.Minute, 5*time.Second)
	s = state()
	if err != nil || res.Outcome != nix.OutcomeRolledBack || res.Cause != nix.CauseTimedOut || s.Current != b || s.ProfileGeneration != gen || s.SwitchLock.Held {
		t.Fatalf("hang: %+v, %v; running %s, generation %d, switch lock %s\n%s", res, err, s.Current, s.ProfileGeneration, s.SwitchLock, strings.Join(logs, "\n"))
	}
}
