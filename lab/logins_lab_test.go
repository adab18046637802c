package lab_test

import (
	"context"
	"testing"
	"time"

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestLogins counts a real host's logins from its sshd log: one per
// connection, whatever the user and the sessions on it, none for a
// refused one, and none on another host.
func TestLogins(t *testing.T) {
	l := labtest.Start(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h, other := l.Hosts[0], l.Hosts[1]
	count := func(name string) int {
		t.Helper()
		n, err := l.Logins(name)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before, otherBefore := count(h.Name), count(other.Name)
	for _, user := range []string{"root", lab.DeployUser} {
		c, err := dialAs(ctx, l, h, user)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if out, err := run(ctx, c, "true"); err != nil {
				t.Fatalf("%s: %v %s", user, err, out)
			}
		}
		c.Close()
	}
	if c, err := dialAs(ctx, l, h, "nosuchuser"); err == nil {
		c.Close()
		t.Fatal("logged in as a user the host does not have")
	}
	if got := count(h.Name) - before; got != 2 {
		t.Errorf("%s: %d logins counted for 2 connections", h.Name, got)
	}
	if got := count(other.Name) - otherBefore; got != 0 {
		t.Errorf("%s: %d logins counted, want 0", other.Name, got)
	}
	if _, err := l.Logins("nosuchhost"); err == nil {
		t.Error("Logins of a host the lab does not have")
	}
}
