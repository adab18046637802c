package lab_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// systemState is `systemctl is-system-running` on the host.
func systemState(ctx context.Context, t *testing.T, l *lab.Lab, host string) string {
	t.Helper()
	out, _ := l.Exec(ctx, host, []string{"systemctl", "is-system-running"}, nil)
	return strings.TrimSpace(string(out))
}

// TestDegraded checks the degraded fault on a real lab host: the
// activation succeeds and the host is healthy, on systemctl and on its
// health endpoint, until the test lets it crash; then both say degraded,
// and going back to the previous system makes it healthy again.
func TestDegraded(t *testing.T) {
	l := labtest.Start(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h, other := l.Hosts[0], l.Hosts[1]
	gen1 := link(t, l, h.Name, "/run/current-system")
	if code, body, err := health(t, h); code != 200 || body != "running "+gen1+"\n" {
		t.Fatalf("health endpoint after lab up: %d %q %v; want 200 running %s", code, body, err, gen1)
	}

	sys := next(t, l, h.Name, lab.ChangeOptions{Fault: "degraded"})
	degrade, err := l.HoldDegraded(h.Name)
	if err != nil {
		t.Fatal(err)
	}
	// activate returns -1 when a process the activation left behind holds
	// its output: the crash must be detached.
	if out, code := activate(ctx, t, l, h.Name, sys, "switch"); code != 0 {
		t.Fatalf("degraded activation: exit %d:\n%s", code, out)
	}
	if st := systemState(ctx, t, l, h.Name); st != "running" {
		t.Errorf("right after the activation: %q, want running", st)
	}
	if code, body, err := health(t, h); code != 200 || body != "running "+sys+"\n" {
		t.Errorf("health right after the activation: %d %q %v", code, body, err)
	}
	// The pending crash holds no switch lock: another activation runs.
	if out, code := activate(ctx, t, l, h.Name, sys, "test"); code != 0 {
		t.Fatalf("activation while the crash is pending: exit %d:\n%s", code, out)
	}

	if err := degrade(ctx); err != nil {
		t.Fatal(err)
	}
	if st := systemState(ctx, t, l, h.Name); st != "degraded" {
		t.Errorf("after the crash: %q, want degraded", st)
	}
	if code, body, err := health(t, h); code != 503 || body != "degraded: lab-app.service\n" {
		t.Errorf("health after the crash: %d %q %v; want 503 degraded: lab-app.service", code, body, err)
	}
	if j, err := l.Exec(ctx, h.Name, []string{"journalctl", "-u", "lab-app"}, nil); err != nil || !strings.Contains(string(j), "lab-app.service: Failed with result") {
		t.Errorf("journal of lab-app: %q, %v", j, err)
	}
	if st := systemState(ctx, t, l, other.Name); st != "running" {
		t.Errorf("%s: %q; another host's crash reached it", other.Name, st)
	}

	if out, code := activate(ctx, t, l, h.Name, gen1, "switch"); code != 0 {
		t.Fatalf("back to generation 1: exit %d:\n%s", code, out)
	}
	if st := systemState(ctx, t, l, h.Name); st != "running" {
		t.Errorf("back on generation 1: %q, want running", st)
	}
	if code, _, err := health(t, h); code != 200 {
		t.Errorf("health back on generation 1: %d %v", code, err)
	}
}

// TestDegradedAfter checks the degraded fault's own timer, without a test
// holding it: the host turns degraded by itself after the activation
// ended (a held gate is not needed), and only while the system runs.
func TestDegradedAfter(t *testing.T) {
	l := labtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := l.Hosts[0]
	sys := next(t, l, h.Name, lab.ChangeOptions{Fault: "degraded", DegradeAfter: time.Millisecond})
	if out, code := activate(ctx, t, l, h.Name, sys, "switch"); code != 0 {
		t.Fatalf("degraded activation: exit %d:\n%s", code, out)
	}
	if err := lab.WaitDegraded(ctx, l, h.Name); err != nil {
		t.Fatal(err)
	}
	if code, _, err := health(t, h); code != 503 {
		t.Errorf("health once degraded: %d %v; want 503", code, err)
	}
	if err := l.Change(h.Name, lab.ChangeOptions{Fault: "fail", DegradeAfter: time.Second}); err == nil {
		t.Error("Change accepted a delay before degrading with another fault")
	}
	if err := l.Change(h.Name, lab.ChangeOptions{Fault: "degraded", DegradeAfter: -time.Second}); err == nil {
		t.Error("Change accepted a negative delay")
	}
}
