package nix_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/nix"
)

// magicHost is a host for the magic rollback's real scripts: a mount
// namespace with a /run and a Nix store (/nix) of its own, its profile at
// generation 1 running system a, and system b in its store.
type magicHost struct {
	r      nsRunner
	runDir string
	a, b   string
}

// stcBody is the fake switch-to-configuration: it activates its own
// system as NixOS does (/run/current-system), then runs extra.
const stcBody = `self=$(cd "$(dirname "$0")/.." && pwd -P)
echo "activating ${self##*-} ($1)"
ln -sfn "$self" /run/current-system
`

func newMagicHost(t *testing.T, bBody string) *magicHost {
	needRoot(t)
	needChrootStore(t)
	r, _, runDir := privateRun(t, "mount -t tmpfs tmpfs /nix")
	h := &magicHost{r: r, runDir: runDir}
	h.a = h.system(t, "system-a", stcBody)
	h.b = h.system(t, "system-b", stcBody+bBody)
	h.sh(t, `mkdir -p /nix/var/nix/profiles && nix-env -p `+nix.SystemProfile+` --set "$1" && ln -s "$1" /run/current-system`, h.a)
	return h
}

// system adds a system whose switch-to-configuration runs body to the
// host's store.
func (h *magicHost) system(t *testing.T, name, body string) string {
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "switch-to-configuration"), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return h.sh(t, `nix-store --add "$1"`, dir)
}

// sh runs script on the host and returns its output, trimmed.
func (h *magicHost) sh(t *testing.T, script string, args ...string) string {
	t.Helper()
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.r.Run(ctx, nix.Cmd{Argv: append([]string{"sh", "-c", script, "sh"}, args...), Stdout: &out}); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return strings.TrimSpace(out.String())
}

// state is what runs and what boots next: /run/current-system's target
// and the profile's link.
func (h *magicHost) state(t *testing.T) (current, profile string) {
	s := h.sh(t, `readlink -f /run/current-system; readlink `+nix.SystemProfile)
	current, profile, _ = strings.Cut(s, "\n")
	return current, profile
}

// otherConn stands for a new connection to the same host: the same
// namespace, another runner.
type otherConn struct{ nsRunner }

func TestActivateLocalMagicRollback(t *testing.T) {
	refused := errors.New("web1: dial tcp 127.0.0.1:22: connect: connection refused")
	tests := []struct {
		name    string
		action  nix.Action
		bBody   string // what b's switch-to-configuration does after activating
		confirm time.Duration
		timeout time.Duration
		dial    func(h *magicHost) (nix.Runner, error)
		lock    bool
		want    nix.Outcome
		cause   string
		on      string // "a" or "b": the system running after
		gen     string // the profile's link after
	}{
		{name: "a confirmation over a new connection keeps the new system", action: nix.Switch, confirm: time.Minute, lock: true,
			dial: func(h *magicHost) (nix.Runner, error) { return otherConn{h.r}, nil },
			want: nix.OutcomeDone, on: "b", gen: "system-2-link"},
		{name: "without a connection the host switches back by itself", action: nix.Switch, confirm: time.Second,
			dial: func(*magicHost) (nix.Runner, error) { return nil, refused },
			want: nix.OutcomeRolledBack, cause: nix.CauseNoSSH, on: "a", gen: "system-1-link"},
		{name: "the activation's own connection cannot confirm", action: nix.Switch, confirm: time.Second,
			dial: func(h *magicHost) (nix.Runner, error) { return h.r, nil },
			want: nix.OutcomeRolledBack, cause: nix.CauseNoSSH, on: "a", gen: "system-1-link"},
		{name: "test goes back without touching the profile", action: nix.Test, confirm: time.Second,
			dial: func(*magicHost) (nix.Runner, error) { return nil, refused },
			want: nix.OutcomeRolledBack, cause: nix.CauseNoSSH, on: "a", gen: "system-1-link"},
		// The timeout is what is tested; the activation hangs long before it.
		{name: "a hung activation is killed and rolled back", action: nix.Switch, confirm: time.Minute, timeout: 3 * time.Second,
			bBody: `echo $$ >"$PIDFILE"; exec sleep 600`,
			dial:  func(h *magicHost) (nix.Runner, error) { return otherConn{h.r}, nil },
			want:  nix.OutcomeRolledBack, cause: nix.CauseTimedOut, on: "a", gen: "system-1-link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			h := newMagicHost(t, strings.ReplaceAll(tt.bBody, "$PIDFILE", pidFile))
			id := opID(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if tt.lock {
				// The activation takes the run directory the lock made.
				if _, err := nix.AcquireLock(ctx, h.r, nix.LockRequest{OpID: id, Owner: "t@ops"}); err != nil {
					t.Fatal(err)
				}
			}
			var logs []string
			res, err := nix.Activate(ctx, h.r, nix.ActivateRequest{Action: tt.action, Path: h.b, OpID: id,
				ConfirmTimeout: tt.confirm, Timeout: tt.timeout, Log: func(l string) { logs = append(logs, l) },
				Confirm: func(context.Context) (nix.Runner, error) { return tt.dial(h) }})
			if err != nil || res.Outcome != tt.want || res.Cause != tt.cause || res.Confirmed != (tt.want == nix.OutcomeDone) {
				t.Fatalf("Activate() = %+v (%s), %v; want %s, cause %q\nlog:\n%s", res, res.Outcome, err, tt.want, tt.cause, strings.Join(logs, "\n"))
			}
			current, profile := h.state(t)
			if want := map[string]string{"a": h.a, "b": h.b}[tt.on]; current != want || profile != tt.gen {
				t.Errorf("running %s, profile %s; want %s, %s\nlog:\n%s", current, profile, want, tt.gen, strings.Join(logs, "\n"))
			}
			run := filepath.Join(h.runDir, id)
			for file, want := range map[string]string{"from-generation": "1", "from-system": h.a} {
				if b, err := os.ReadFile(filepath.Join(run, file)); err != nil || strings.TrimSpace(string(b)) != want {
					t.Errorf("%s = %q, %v; want %q", file, b, err, want)
				}
			}
			if tt.timeout > 0 {
				// On a machine slow enough that the timeout came before the
				// activation started, there is nothing to have killed (and
				// it never started: the rollback's checks above hold).
				b, err := os.ReadFile(pidFile)
				if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && (pid <= 0 || !testenv.WaitExit(pid, 0)) {
					t.Errorf("the hung activation (pid %q) still runs after Activate returned", b)
				}
			}
		})
	}
}

// TestRollbackLocalMagic: a rollback to an older generation is a switch
// like any other: unconfirmed, the host goes back to what ran before it.
func TestRollbackLocalMagic(t *testing.T) {
	h := newMagicHost(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if res, err := nix.Activate(ctx, h.r, nix.ActivateRequest{Action: nix.Switch, Path: h.b, OpID: opID(t)}); err != nil || res.Outcome != nix.OutcomeDone {
		t.Fatalf("switch to b: %+v, %v", res, err)
	}
	res, err := nix.Rollback(ctx, h.r, nix.Generation{Number: 1, Path: h.a}, nix.ActivateRequest{OpID: opID(t), ConfirmTimeout: time.Second,
		Confirm: func(context.Context) (nix.Runner, error) { return nil, errors.New("web1: no route to host") }})
	if err != nil || res.Outcome != nix.OutcomeRolledBack || res.Cause != nix.CauseNoSSH {
		t.Fatalf("unconfirmed rollback = %+v, %v", res, err)
	}
	if current, profile := h.state(t); current != h.b || profile != "system-2-link" {
		t.Errorf("after the unconfirmed rollback: running %s, profile %s; want b, system-2-link", current, profile)
	}
}
