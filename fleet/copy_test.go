package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"nixdeck/fleet/remote"
	"nixdeck/internal/testenv"
	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// countingRunner runs commands locally and records each one's first two
// words.
type countingRunner struct {
	nix.LocalRunner
	mu    sync.Mutex
	calls []string
}

func (c *countingRunner) Run(ctx context.Context, cmd nix.Cmd) error {
	c.mu.Lock()
	c.calls = append(c.calls, strings.Join(cmd.Argv[:2], " "))
	c.mu.Unlock()
	return c.LocalRunner.Run(ctx, cmd)
}

// chrootStore is a runner whose Nix commands use a new, empty store
// (what a host's store is to a copy), and that store's root.
func chrootStore(t *testing.T) (nix.LocalRunner, string) {
	root := t.TempDir()
	return nix.LocalRunner{Env: append(os.Environ(), "NIX_REMOTE=local?root="+root)}, root
}

// needNixRoot skips without Nix or root (chroot stores need both),
// except under CI, where it fails.
func needNixRoot(t *testing.T) {
	nixtest.NeedNix(t)
	testenv.NeedRoot(t, "chroot stores need root")
	t.Setenv("NIX_CONFIG", "substituters =")
}

// TestCopySystem copies a closure into chroot stores standing in for
// hosts: they go in batches of parallel; in a batch, the hosts lacking
// the same paths share one read of this machine's store; an unreachable
// host and a host that refuses end with their own errors.
func TestCopySystem(t *testing.T) {
	needNixRoot(t)
	sys := nixtest.SizedClosure(t, 5, 20<<10)
	local := &countingRunner{}
	a, rootA := chrootStore(t)
	d, rootD := chrootStore(t)
	refused := &nix.ExitError{Argv: []string{"sudo"}, Code: 1, Stderr: "sudo: a password is required"}
	conn := fakeConnector{
		runners: map[string]nix.Runner{"a": a, "b": runnerFunc(func(context.Context, nix.Cmd) error { return refused }), "d": d},
		errs:    map[string]error{"c": &remote.Error{Name: "c", Addr: "c.example.org:22", Op: "dial", Err: errors.New("connection refused")}},
	}
	eng := engine(t, conn, 3)
	eng.local = local
	seq := map[string][]string{}
	for e := range eng.CopySystem(context.Background(), nodes("a", "b", "c", "d"), sys).All() {
		var s string
		switch e := e.(type) {
		case PhaseEvent:
			s = string(e.Phase)
		case CopyEvent:
			s = fmt.Sprintf("progress:%d/%d", e.PathsDone, e.PathsTotal)
		case CopySourceEvent:
			s = fmt.Sprintf("source:%d/%d", e.FromCache, e.FromOperator)
		case LogEvent:
			s = e.Source + ":" + e.Line[:min(len(e.Line), 19)]
		case DoneEvent:
			s = fmt.Sprintf("done:%v", e.Err)
		default:
			continue // the operation's own events, and commands
		}
		seq[e.Host()] = append(seq[e.Host()], s)
	}
	ok := "queued|connecting|copying|progress:6/6|source:0/6|copy:copied 6 of 6 paths|done|done:<nil>"
	want := map[string]string{
		"a": ok,
		"b": "queued|connecting|copying|failed|done:b: copy: " + sys + ": check which paths the host lacks: sudo: exit status 1: sudo: a password is required",
		"c": "queued|connecting|failed|done:c (c.example.org:22): dial: connection refused",
		"d": ok,
	}
	for h, w := range want {
		if g := strings.Join(seq[h], "|"); g != w {
			t.Errorf("host %s events\n got %q\nwant %q", h, g, w)
		}
	}
	for _, root := range []string{rootA, rootD} {
		if _, err := os.Stat(root + sys); err != nil {
			t.Errorf("copy missing: %v", err)
		}
	}
	// The closure, the records and one read of the store per batch: a
	// (b refused, c unreachable) in the first; d the second.
	slices.Sort(local.calls)
	if w := []string{"nix-store --dump-db", "nix-store --dump-db", "nix-store --query", "nix-store --query",
		"nix-store --serve", "nix-store --serve"}; !slices.Equal(local.calls, w) {
		t.Errorf("local commands %q, want %q", local.calls, w)
	}
}

// TestCopySystemCancelled: a cancelled copy still ends every host.
func TestCopySystemCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := map[string]error{}
	eng := engine(t, fakeConnector{}, 2)
	eng.local = &countingRunner{}
	for e := range eng.CopySystem(ctx, nodes("a", "b", "c"), "/nix/store/x").All() {
		if d, ok := e.(DoneEvent); ok {
			done[d.Host()] = d.Err
		}
	}
	for _, h := range []string{"a", "b", "c"} {
		if err, ok := done[h]; !ok || !errors.Is(err, context.Canceled) {
			t.Errorf("host %s: done %v (%v), want context.Canceled", h, err, ok)
		}
	}
}
