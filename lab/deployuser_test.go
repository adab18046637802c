package lab_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/internal/proc"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// privileged runs argv as root over c: through sudo -n for a non-root login.
func privileged(ctx context.Context, c *remote.Client, argv ...string) (string, error) {
	var out lockedBuffer
	err := c.Run(ctx, proc.Cmd{Argv: argv, Stdout: &out, Stderr: &out, Privileged: true})
	return out.String(), err
}

// TestDeployUser logs in to real lab hosts as the deploy user: its Nix
// queries reach the host's own store, root commands go through the real
// sudo, and SetSudoPassword makes that sudo want a password on one host
// only. The machine's own /etc is left alone. The lab is mixed: web01's
// sudo and Nix daemon are Debian 13's.
func TestDeployUser(t *testing.T) {
	etc := map[string][]byte{}
	for _, f := range []string{"/etc/passwd", "/etc/group", "/etc/sudoers"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		etc[f] = b
	}
	l := labtest.StartMixed(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clients := map[string]*remote.Client{}
	for _, h := range l.Hosts {
		c, err := dialAs(ctx, l, h, lab.DeployUser)
		if err != nil {
			t.Fatalf("%s: log in as %s: %v", h.Name, lab.DeployUser, err)
		}
		defer c.Close()
		clients[h.Name] = c
		cur := link(t, l, h.Name, "/run/current-system")
		// Unprivileged: the user's own identity and the store through the
		// host's Nix daemon.
		if out, err := run(ctx, c, "id", "-un"); err != nil || out != lab.DeployUser+"\n" {
			t.Errorf("%s: id -un: %q, %v", h.Name, out, err)
		}
		if out, err := run(ctx, c, "nix-store", "--query", "--references", cur); err != nil || !strings.Contains(out, "-etc\n") {
			t.Errorf("%s: nix-store --query as %s: %q, %v", h.Name, lab.DeployUser, out, err)
		}
		// Privileged: root through sudo, in the host's own store.
		if out, err := privileged(ctx, c, "id", "-u"); err != nil || out != "0\n" {
			t.Errorf("%s: sudo -n id -u: %q, %v", h.Name, out, err)
		}
		if out, err := privileged(ctx, c, "nix-store", "--check-validity", cur); err != nil {
			t.Errorf("%s: sudo -n nix-store --check-validity: %q, %v", h.Name, out, err)
		}
	}
	for _, pair := range [][2]string{{l.Hosts[0].Name, l.Hosts[1].Name}, {l.Hosts[1].Name, l.Hosts[0].Name}} {
		host, other := pair[0], pair[1]
		if err := l.SetSudoPassword(host, true); err != nil {
			t.Fatal(err)
		}
		var se *remote.SudoError
		if out, err := privileged(ctx, clients[host], "nix-store", "--version"); !errors.As(err, &se) || se.Message != "sudo: a password is required" {
			t.Errorf("%s with sudo wanting a password: %q, %v; want a SudoError saying a password is required", host, out, err)
		}
		if out, err := run(ctx, clients[host], "id", "-un"); err != nil {
			t.Errorf("%s: unprivileged commands must still run: %q, %v", host, out, err)
		}
		if out, err := privileged(ctx, clients[other], "id", "-u"); err != nil || out != "0\n" {
			t.Errorf("%s: sudo changed on another host: %q, %v", other, out, err)
		}
		if err := l.SetSudoPassword(host, false); err != nil {
			t.Fatal(err)
		}
		if out, err := privileged(ctx, clients[host], "id", "-u"); err != nil || out != "0\n" {
			t.Errorf("%s: sudo after SetSudoPassword(false): %q, %v", host, out, err)
		}
	}

	// Root logs in as before.
	rc, err := dial(ctx, l, l.Hosts[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if out, err := run(ctx, rc, "id", "-un"); err != nil || out != "root\n" {
		t.Errorf("root login: %q, %v", out, err)
	}
	for f, want := range etc {
		if b, err := os.ReadFile(f); err != nil || !bytes.Equal(b, want) {
			t.Errorf("the machine's %s changed (%v)", f, err)
		}
	}
}

// TestSetUser checks that the fleet file logs in to the selected hosts as
// the deploy user, and as root again.
func TestSetUser(t *testing.T) {
	l := labtest.Start(t, 3)
	if err := l.SetUser("@web,canary", lab.DeployUser); err != nil {
		t.Fatal(err)
	}
	users := func() map[string]string {
		t.Helper()
		f, err := fleet.Load(l.FleetPath)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, n := range f.Nodes {
			out[n.Name] = n.User
		}
		return out
	}
	if got := users(); got["canary"] != lab.DeployUser || got["web01"] != lab.DeployUser || got["db01"] != "root" {
		t.Errorf("fleet file users %v; want deploy on canary and web01, root on db01", got)
	}
	// The manifest keeps the users for the next Open.
	re, err := lab.Open(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if re.Hosts[0].User != lab.DeployUser || re.Hosts[2].User != "" {
		t.Errorf("reopened lab users: %+v", re.Hosts)
	}
	if err := l.SetUser("", "root"); err != nil {
		t.Fatal(err)
	}
	for name, u := range users() {
		if u != "root" {
			t.Errorf("%s: user %q after SetUser root", name, u)
		}
	}
	if err := l.SetUser("canary", "alice"); err == nil {
		t.Error("SetUser accepted a user the hosts do not have")
	}
}
