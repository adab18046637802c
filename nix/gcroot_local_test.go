package nix_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// gcDuringRoot is a runner into a host that, when the copy asks for its
// GC root (the copy's session still open, every path sent), first runs a
// real garbage collection there and checks what survived it.
type gcDuringRoot struct {
	nsRunner
	t        *testing.T
	closure  []string
	collects int
}

func (g *gcDuringRoot) Run(ctx context.Context, c nix.Cmd) error {
	if len(c.Argv) > 2 && strings.Contains(c.Argv[2], "--add-root") {
		g.collects++
		if missing := collect(ctx, g.t, g.nsRunner, g.closure); len(missing) != 0 {
			g.t.Errorf("a collection during the copy deleted %v", missing)
		}
	}
	return g.nsRunner.Run(ctx, c)
}

// collect runs nix-store --gc on r and returns the paths of closure
// that are gone after it.
func collect(ctx context.Context, t *testing.T, r nix.Runner, closure []string) []string {
	t.Helper()
	var out strings.Builder
	if err := r.Run(ctx, nix.Cmd{Argv: []string{"nix-store", "--gc"}, Stderr: &out}); err != nil {
		t.Fatalf("nix-store --gc: %v", err)
	}
	if !strings.Contains(out.String(), "deleting garbage...") {
		t.Fatalf("nix-store --gc said %q", out.String())
	}
	missing, err := nix.Invalid(ctx, r, closure)
	if err != nil {
		t.Fatal(err)
	}
	return missing
}

// TestGCRootSurvivesGC copies a closure into a host with a store of its
// own (a mount namespace with a private /nix) and collects the host's
// garbage with the real nix-store --gc: while the copy's session is
// open, after it, and once the root is removed.
func TestGCRootSurvivesGC(t *testing.T) {
	needRoot(t)
	needChrootStore(t)
	sys := nixtest.LargeClosure(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	closure, err := nix.Requisites(ctx, nix.LocalRunner{}, []string{sys})
	if err != nil {
		t.Fatal(err)
	}
	r, _, _ := privateRun(t, "mount -t tmpfs tmpfs /nix")
	host := &gcDuringRoot{nsRunner: r, t: t, closure: closure}
	root, err := nix.GCRootPath("deploy-gc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nix.Copy(ctx, nix.LocalRunner{}, host, nix.CopyRequest{Paths: []string{sys}, Root: root}); err != nil {
		t.Fatal(err)
	}
	if host.collects != 1 {
		t.Fatalf("%d collections during the copy, want 1", host.collects)
	}
	if missing := collect(ctx, t, r, closure); len(missing) != 0 {
		t.Fatalf("a collection after the copy deleted %v", missing)
	}
	// A second copy finds everything there and makes the root again.
	if res, err := nix.Copy(ctx, nix.LocalRunner{}, host, nix.CopyRequest{Paths: []string{sys}, Root: root}); err != nil || len(res.Missing) != 0 || host.collects != 2 {
		t.Fatalf("second copy: %+v, %v (%d collections)", res, err, host.collects)
	}
	if err := nix.RemoveRoot(ctx, r, root); err != nil {
		t.Fatal(err)
	}
	if err := nix.RemoveRoot(ctx, r, root); err != nil {
		t.Errorf("removing a root that is gone: %v", err)
	}
	// Without the root the closure is garbage: the collections above
	// could have deleted it.
	if missing := collect(ctx, t, r, closure); len(missing) != len(closure) {
		t.Errorf("without its root, the collection left %d of %d paths", len(closure)-len(missing), len(closure))
	}
}
