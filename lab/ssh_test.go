package lab_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/fleet/remote"
	"nixdeck/internal/proc"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// dial connects to a lab host as root with the nixdeck SSH transport, as
// the fleet file says to.
func dial(ctx context.Context, l *lab.Lab, h lab.Host) (*remote.Client, error) {
	return dialAs(ctx, l, h, "root")
}

// dialAs connects to a lab host as user with the lab key; privileged
// commands go through sudo -n when the user is not root.
func dialAs(ctx context.Context, l *lab.Lab, h lab.Host, user string) (*remote.Client, error) {
	return remote.Dial(ctx, remote.Target{
		Name:       h.Name,
		Host:       "127.0.0.1",
		Port:       h.Port,
		User:       user,
		Identity:   filepath.Join(l.Dir, "id_ed25519"),
		KnownHosts: filepath.Join(l.Dir, "known_hosts"),
	}, remote.Options{SSHConfigPath: "none", DialTimeout: 3 * time.Second, HandshakeTimeout: 5 * time.Second})
}

// run runs argv over c and returns stdout and stderr together.
func run(ctx context.Context, c *remote.Client, argv ...string) (string, error) {
	var out lockedBuffer
	err := c.Run(ctx, proc.Cmd{Argv: argv, Stdout: &out, Stderr: &out})
	return out.String(), err
}

// lockedBuffer is a buffer that stdout and stderr may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSSHSeesOwnHost checks through SSH that every host shows its own
// store, profile and running system, and that sessions get the NixOS PATH.
func TestSSHSeesOwnHost(t *testing.T) {
	l := labtest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := map[string]bool{}
	for _, h := range l.Hosts {
		c, err := dial(ctx, l, h)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cur, err := run(ctx, c, "readlink", "/run/current-system")
		if err != nil {
			t.Fatal(err)
		}
		cur = strings.TrimSpace(cur)
		want, _ := l.Exec(ctx, h.Name, []string{"readlink", "/run/current-system"}, nil)
		if cur != strings.TrimSpace(string(want)) || !strings.Contains(cur, "-nixos-system-"+h.Name+"-") || seen[cur] {
			t.Errorf("%s over SSH: current system %q; nsenter says %q", h.Name, cur, want)
		}
		seen[cur] = true
		if out, err := run(ctx, c, "nix-store", "--check-validity", cur); err != nil {
			t.Errorf("%s: own system invalid in own store: %v %s", h.Name, err, out)
		}
		// Root's login shell sources $HOME/.bashrc for every command: the
		// machine's own /root/.bashrc must not run (it costs seconds).
		if home, err := run(ctx, c, "sh", "-c", "echo $HOME"); err != nil || strings.TrimSpace(home) != filepath.Join(l.Dir, "hosts", h.Name, "home") {
			t.Errorf("%s: session HOME %q, %v; want the host's own home", h.Name, home, err)
		}
		gens, err := run(ctx, c, "sh", "-c", "ls /nix/var/nix/profiles; command -v systemctl")
		if err != nil || !strings.Contains(gens, "system-1-link") || !strings.Contains(gens, "/run/current-system/sw/bin/systemctl") {
			t.Errorf("%s: profiles and PATH over SSH: %q, %v", h.Name, gens, err)
		}
	}
}

// TestBreakSSH checks the lock-out fault: the activation completes over
// the session that started it, new connections are refused, and a later
// good activation (or SetHost) brings sshd back.
func TestBreakSSH(t *testing.T) {
	l := labtest.Start(t, 1)
	h := l.Hosts[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gen1 := link(t, l, h.Name, "/run/current-system")
	sys := next(t, l, h.Name, lab.ChangeOptions{Fault: "breakssh"})

	c, err := dial(ctx, l, h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, err := run(ctx, c, sys+"/bin/switch-to-configuration", "switch"); err != nil {
		t.Fatalf("breakssh activation over SSH: %v\n%s", err, out)
	}
	if _, err := run(ctx, c, "true"); err != nil {
		t.Errorf("the session that activated died with the listener: %v", err)
	}
	if c2, err := dial(ctx, l, h); err == nil {
		c2.Close()
		t.Fatal("a new connection succeeded after breakssh")
	}

	// The old session rolls back, as magic rollback would.
	if out, err := run(ctx, c, gen1+"/bin/switch-to-configuration", "switch"); err != nil {
		t.Fatalf("rollback activation: %v\n%s", err, out)
	}
	c3, err := dial(ctx, l, h)
	if err != nil {
		t.Fatalf("sshd not back after a good activation: %v", err)
	}
	c3.Close()

	if err := l.SetHost(h.Name, false); err != nil {
		t.Fatal(err)
	}
	if c4, err := dial(ctx, l, h); err == nil {
		c4.Close()
		t.Fatal("connected to a host set down")
	}
	if err := l.SetHost(h.Name, true); err != nil {
		t.Fatal(err)
	}
	c5, err := dial(ctx, l, h)
	if err != nil {
		t.Fatalf("host set up again is unreachable: %v", err)
	}
	c5.Close()
	var ee *proc.ExitError
	if _, err := run(ctx, c, "false"); !errors.As(err, &ee) {
		t.Errorf("old session: want an exit error from false, got %v", err)
	}
}

// TestSetShell: a test can make a host answer SSH commands its own way,
// seeing the command asked for, and give the host its own shell back.
func TestSetShell(t *testing.T) {
	l := labtest.Start(t, 1)
	h := l.Hosts[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := dial(ctx, l, h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := l.SetShell(h.Name, `case $SSH_ORIGINAL_COMMAND in *hostname*) echo forged; exit 3;; esac
exec "$SHELL" -c "$SSH_ORIGINAL_COMMAND"
`); err != nil {
		t.Fatal(err)
	}
	var ee *proc.ExitError
	if out, err := run(ctx, c, "cat", "/proc/sys/kernel/hostname"); !errors.As(err, &ee) || ee.Code != 3 || out != "forged\n" {
		t.Errorf("answered %q, %v; want the test's shell's forged answer, exit 3", out, err)
	}
	// Other commands reach the host's own shell, quoting intact.
	if out, err := run(ctx, c, "printf", "%s|", "a b", "$HOME", "it's"); err != nil || out != "a b|$HOME|it's|" {
		t.Errorf("handed on: %q, %v", out, err)
	}
	if err := l.SetShell(h.Name, ""); err != nil {
		t.Fatal(err)
	}
	if out, err := run(ctx, c, "cat", "/proc/sys/kernel/hostname"); err != nil || out == "forged\n" {
		t.Errorf("after SetShell(\"\"): %q, %v", out, err)
	}
	if err := l.SetShell("nosuchhost", "exit 0"); err == nil {
		t.Error("SetShell accepted a host the lab does not have")
	}
}
