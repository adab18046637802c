package lab_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/proc"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// next changes host's configuration, builds its next system and imports it
// into the host's store; it returns the system's store path.
func next(t *testing.T, l *lab.Lab, host string, opts lab.ChangeOptions) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := l.Change(host, opts); err != nil {
		t.Fatal(err)
	}
	paths, err := l.Build(ctx, []string{host})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Import(ctx, host, paths[host]); err != nil {
		t.Fatal(err)
	}
	return paths[host]
}

// activate runs system's switch-to-configuration action on host and returns
// its combined output and exit status.
func activate(ctx context.Context, t *testing.T, l *lab.Lab, host, system, action string) (string, int) {
	t.Helper()
	out, err := l.Exec(ctx, host, []string{"/bin/sh", "-c", `"$0/bin/switch-to-configuration" "$1" 2>&1`, system, action}, nil)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return string(out), ee.ExitCode()
	default:
		return string(out), -1
	}
}

// link reads a symlink inside the host's namespace.
func link(t *testing.T, l *lab.Lab, host, path string) string {
	t.Helper()
	out, err := l.Exec(context.Background(), host, []string{"readlink", "-f", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestActivation checks switch-to-configuration's NixOS contract and every
// fault on a real 3-host lab.
func TestActivation(t *testing.T) {
	l := labtest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const host = "canary"
	gen1 := link(t, l, host, "/run/current-system")

	t.Run("usage", func(t *testing.T) {
		out, code := activate(ctx, t, l, host, gen1, "bogus")
		if code != 1 || !strings.Contains(out, "Usage:") {
			t.Errorf("exit %d, output %q; want 1 and the usage", code, out)
		}
	})

	b := next(t, l, host, lab.ChangeOptions{Release: "b"})
	t.Run("dry-activate changes nothing", func(t *testing.T) {
		out, code := activate(ctx, t, l, host, b, "dry-activate")
		if code != 0 || !strings.Contains(out, "would restart the following units:") || !strings.Contains(out, "nginx.service") {
			t.Errorf("exit %d, output %q; want 0 and would restart nginx.service", code, out)
		}
		if cur := link(t, l, host, "/run/current-system"); cur != gen1 {
			t.Errorf("current system %s, want unchanged %s", cur, gen1)
		}
		if boot := link(t, l, host, "/nix/var/nixdeck-lab/boot-entry"); boot == b {
			t.Errorf("dry-activate changed the boot entry")
		}
	})

	t.Run("switch", func(t *testing.T) {
		out, code := activate(ctx, t, l, host, b, "switch")
		for _, want := range []string{"activating the configuration...", "setting up /etc...", "restarting the following units:"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if cur := link(t, l, host, "/run/current-system"); cur != b {
			t.Errorf("current system %s, want %s", cur, b)
		}
		if booted := link(t, l, host, "/run/booted-system"); booted != gen1 {
			t.Errorf("booted system %s, want untouched %s", booted, gen1)
		}
		j, err := l.Exec(ctx, host, []string{"journalctl", "-n", "5", "-u", "nginx"}, nil)
		if err != nil || !strings.Contains(string(j), "Started nginx.service.") {
			t.Errorf("journalctl -u nginx: %q, %v", j, err)
		}
	})

	t.Run("fault fail", func(t *testing.T) {
		sys := next(t, l, host, lab.ChangeOptions{Fault: "fail"})
		out, code := activate(ctx, t, l, host, sys, "switch")
		if code != 2 || !strings.Contains(out, "failed") {
			t.Errorf("exit %d, output %q; want 2", code, out)
		}
		if cur := link(t, l, host, "/run/current-system"); cur != sys {
			t.Errorf("current system %s, want %s: NixOS switches even when a snippet fails", cur, sys)
		}
	})

	t.Run("fault units", func(t *testing.T) {
		sys := next(t, l, host, lab.ChangeOptions{Fault: "units"})
		// journalctl -f follows the unit's lines while the activation runs.
		fctx, fcancel := context.WithCancel(ctx)
		defer fcancel()
		followed := followJournal(fctx, t, l, host, "lab-app.service")
		out, code := activate(ctx, t, l, host, sys, "test")
		if code != 4 || !strings.Contains(out, "the following units failed: lab-app.service") {
			t.Errorf("exit %d, output %q; want 4", code, out)
		}
		// The fault's last journal line ends what there is to follow.
		seen := waitLine(t, followed, "lab-app.service: Failed with result")
		if !strings.Contains(seen, "lab-app.service: Main process exited, code=exited, status=1/FAILURE") || strings.Contains(seen, "nginx") {
			t.Errorf("journalctl -f -u lab-app showed %q", seen)
		}
		state, _ := l.Exec(ctx, host, []string{"systemctl", "is-system-running"}, nil)
		if strings.TrimSpace(string(state)) != "degraded" {
			t.Errorf("is-system-running = %q, want degraded", state)
		}
	})

	t.Run("fault reboot", func(t *testing.T) {
		sys := next(t, l, host, lab.ChangeOptions{Fault: "reboot"})
		if _, err := l.Exec(ctx, host, []string{"nix-env", "-p", "/nix/var/nix/profiles/system", "--set", sys}, nil); err != nil {
			t.Fatal(err)
		}
		if out, code := activate(ctx, t, l, host, sys, "switch"); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		state, _ := l.Exec(ctx, host, []string{"systemctl", "is-system-running"}, nil)
		if strings.TrimSpace(string(state)) != "running" {
			t.Errorf("after a good activation is-system-running = %q, want running", state)
		}
		booted := link(t, l, host, "/run/booted-system/kernel")
		prof := link(t, l, host, "/nix/var/nix/profiles/system/kernel")
		if booted == prof || !strings.Contains(prof, "linux-6.6.63") {
			t.Errorf("booted kernel %s, profile kernel %s: want a new kernel", booted, prof)
		}
	})

	t.Run("fault hang holds the lock", func(t *testing.T) {
		sys := next(t, l, host, lab.ChangeOptions{Fault: "hang"})
		fctx, fcancel := context.WithCancel(ctx)
		defer fcancel()
		followed := followJournal(fctx, t, l, host, "lab-app.service")
		hctx, hcancel := context.WithCancel(ctx)
		defer hcancel()
		hung := make(chan string, 1)
		go func() {
			out, code := activate(hctx, t, l, host, sys, "switch")
			hung <- fmt.Sprintf("exit %d\n%s", code, out)
		}()
		// The unit that never finishes starting is the activation's last word.
		waitLine(t, followed, "Starting lab-app.service")
		out, code := activate(ctx, t, l, host, gen1, "test")
		if code == 0 || !strings.Contains(out, "Could not acquire lock") {
			t.Errorf("with the lock held: exit %d, output %q; want a refusal", code, out)
		}
		select {
		case res := <-hung:
			t.Fatalf("the hanging activation returned: %s", res)
		default:
		}
	})
}

// followJournal follows unit's journal on host over SSH, as an operator
// would with journalctl -f, until ctx ends, and delivers the lines. It
// returns once the follower runs: it journals a marker line first and
// waits for journalctl to show it as the last line so far.
func followJournal(ctx context.Context, t *testing.T, l *lab.Lab, host, unit string) <-chan string {
	t.Helper()
	marker := fmt.Sprintf("test marker %d", time.Now().UnixNano())
	journal := `printf '%s\ttest: %s\n' "$1" "$2" >>/run/log/journal/lab.log`
	if _, err := l.Exec(ctx, host, []string{"sh", "-c", journal, "sh", unit, marker}, nil); err != nil {
		t.Fatal(err)
	}
	var h lab.Host
	for _, lh := range l.Hosts {
		if lh.Name == host {
			h = lh
		}
	}
	c, err := dial(ctx, l, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pr, pw := io.Pipe()
	go func() {
		err := c.Run(ctx, proc.Cmd{Argv: []string{"journalctl", "-f", "-n", "1", "-u", unit}, Stdout: pw})
		pw.CloseWithError(err)
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				pr.CloseWithError(ctx.Err())
				return
			}
		}
	}()
	waitLine(t, lines, marker)
	return lines
}

// waitLine reads lines until one contains want and returns all it read;
// it fails the test when the lines end first.
func waitLine(t *testing.T, lines <-chan string, want string) string {
	t.Helper()
	var seen []string
	for l := range lines {
		seen = append(seen, l)
		if strings.Contains(l, want) {
			return strings.Join(seen, "\n")
		}
	}
	t.Fatalf("the journal ended without %q; it showed %q", want, seen)
	return ""
}

// TestImportIsolated checks that importing into one host's store leaves
// the others' stores alone.
func TestImportIsolated(t *testing.T) {
	l := labtest.Start(t, 2)
	a, b := l.Hosts[0].Name, l.Hosts[1].Name
	sys := next(t, l, a, lab.ChangeOptions{Release: "b"})
	ctx := context.Background()
	if _, err := l.Exec(ctx, a, []string{"nix-store", "--check-validity", sys}, nil); err != nil {
		t.Errorf("%s: imported system not valid: %v", a, err)
	}
	if _, err := l.Exec(ctx, b, []string{"nix-store", "--check-validity", sys}, nil); err == nil {
		t.Errorf("%s: %s is valid although only %s imported it", b, sys, a)
	}
}
