package nix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// closureOutput is what ClosureCmd prints on a small NixOS-like system.
const closureOutput = `#root /nix/store/8jh7rcm1bdhy2bfy1q8jz6g5f5qvvf6n-nixos-system-web1-24.05.20240901.abc
#sw /nix/store/5k2sxqk9s6w5cj6lq5rqrgdl2j0pz7ra-system-path
#kernel /nix/store/1xg0hgxkxv7hvqk9p3cgkq1lq2w2a3fs-linux-6.6.58/bzImage
#initrd /nix/store/7h2kb9n3rlm7q1wwj2y0k8vbd4ss5lbf-initrd-linux-6.6.58/initrd
#refs
/nix/store/5k2sxqk9s6w5cj6lq5rqrgdl2j0pz7ra-system-path
/nix/store/1xg0hgxkxv7hvqk9p3cgkq1lq2w2a3fs-linux-6.6.58
#swrefs
/nix/store/0i6lxm1l9ykkw0v9q4i8fkk4mmaw1y3p-bash-interactive-5.2p32
#paths
/nix/store/0i6lxm1l9ykkw0v9q4i8fkk4mmaw1y3p-bash-interactive-5.2p32
/nix/store/1xg0hgxkxv7hvqk9p3cgkq1lq2w2a3fs-linux-6.6.58
/nix/store/5k2sxqk9s6w5cj6lq5rqrgdl2j0pz7ra-system-path
/nix/store/8jh7rcm1bdhy2bfy1q8jz6g5f5qvvf6n-nixos-system-web1-24.05.20240901.abc
#sizes
1599872
136318976
52224
13872
#end
`

func TestQueryClosure(t *testing.T) {
	tests := []struct {
		name, out, err string
		fail           error
	}{
		{name: "ok", out: closureOutput},
		{name: "truncated", out: closureOutput[:strings.Index(closureOutput, "#sizes")], err: "truncated output"},
		{name: "missing size", out: strings.Replace(closureOutput, "13872\n", "", 1), err: "4 paths but 3 sizes"},
		{name: "bad size", out: strings.Replace(closureOutput, "13872", "13k", 1), err: "size of"},
		{name: "negative size", out: strings.Replace(closureOutput, "13872", "-13872", 1), err: `"-13872" is not a size`},
		{name: "huge size", out: strings.Replace(closureOutput, "13872", "99999999999999999999", 1), err: "is not a size"},
		{name: "not a store path", out: strings.Replace(closureOutput, "#paths\n/nix/store/0i6", "#paths\n/etc/0i6", 1), err: "is not a store path"},
		{name: "inside a store path", out: strings.Replace(closureOutput, "#paths\n/nix/store/0i6lxm1l9ykkw0v9q4i8fkk4mmaw1y3p-bash-interactive-5.2p32",
			"#paths\n/nix/store/0i6lxm1l9ykkw0v9q4i8fkk4mmaw1y3p-bash-interactive-5.2p32/bin", 1), err: "is not a store path"},
		{name: "garbage", out: "hello\n", err: "unexpected output line"},
		{name: "host fails", fail: &ExitError{Code: 1, Stderr: "readlink: /run/current-system: No such file"}, err: "No such file"},
		{name: "connection lost", fail: ErrConnectionLost, err: "connection lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRunner(t)
			call := f.expect(ClosureCmd("/run/current-system").Argv...).out(tt.out)
			if tt.fail != nil {
				call.fail(tt.fail)
			}
			c, err := QueryClosure(context.Background(), f, "/run/current-system")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if tt.fail == ErrConnectionLost && !errors.Is(err, ErrConnectionLost) {
					t.Errorf("err = %v does not wrap ErrConnectionLost", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Paths) != 4 || c.NarSize() != 1599872+136318976+52224+13872 {
				t.Errorf("paths %v, size %d", c.Paths, c.NarSize())
			}
			if len(c.Refs) != 2 || len(c.SWRefs) != 1 || !strings.HasSuffix(c.SW, "-system-path") ||
				!strings.HasSuffix(c.Kernel, "/bzImage") || !strings.HasSuffix(c.Initrd, "/initrd") {
				t.Errorf("parsed %+v", c)
			}
		})
	}
}

// TestQueryClosureCapsOutput: a host that prints without end is stopped
// at MaxClosureOutput with an error saying so.
func TestQueryClosureCapsOutput(t *testing.T) {
	f := &floodRunner{}
	_, err := QueryClosure(context.Background(), f, "/run/current-system")
	if err == nil || err.Error() != "query closure of /run/current-system: sent more than 64 MiB for the closure" {
		t.Errorf("got %v", err)
	}
	if f.sent > MaxClosureOutput {
		t.Errorf("kept %d bytes, more than the cap", f.sent)
	}
}

// countingRunner answers every closure query with closureOutput and counts them.
type countingRunner struct{ closureQueries, other atomic.Int32 }

func (r *countingRunner) Run(ctx context.Context, c Cmd) error {
	if len(c.Argv) > 2 && c.Argv[2] == closureScript {
		r.closureQueries.Add(1)
		_, err := c.Stdout.Write([]byte(closureOutput))
		return err
	}
	r.other.Add(1)
	return errors.New("unexpected command")
}

func TestClosureCacheSharesQueries(t *testing.T) {
	var cache ClosureCache
	hosts := make([]*countingRunner, 6)
	var wg sync.WaitGroup
	for i := range hosts {
		hosts[i] = &countingRunner{}
		// Hosts 0-3 run system A, hosts 4-5 system B.
		sys := "/nix/store/8jh7rcm1bdhy2bfy1q8jz6g5f5qvvf6n-nixos-system-web1-24.05.20240901.abc"
		if i >= 4 {
			sys = "/nix/store/9jh7rcm1bdhy2bfy1q8jz6g5f5qvvf6n-nixos-system-db1-24.05.20240901.abc"
		}
		wg.Go(func() {
			if _, err := cache.Get(context.Background(), hosts[i], sys); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	total := 0
	for _, h := range hosts {
		total += int(h.closureQueries.Load()) + int(h.other.Load())
	}
	if total != 2 {
		t.Errorf("%d round trips for 2 distinct systems on 6 hosts, want 2", total)
	}
}

// failingRunner fails every command as an unreachable host would.
type failingRunner struct{}

func (failingRunner) Run(ctx context.Context, c Cmd) error {
	return fmt.Errorf("web1: %w", ErrConnectionLost)
}

func TestClosureCacheDoesNotKeepFailures(t *testing.T) {
	var cache ClosureCache
	sys := "/nix/store/8jh7rcm1bdhy2bfy1q8jz6g5f5qvvf6n-nixos-system-web1-24.05.20240901.abc"
	if _, err := cache.Get(context.Background(), failingRunner{}, sys); !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("err = %v, want connection lost", err)
	}
	ok := &countingRunner{}
	c, err := cache.Get(context.Background(), ok, sys)
	if err != nil || c == nil || ok.closureQueries.Load() != 1 {
		t.Fatalf("second host: %v, %d queries; the failure must not be cached", err, ok.closureQueries.Load())
	}
	again := &countingRunner{}
	if _, err := cache.Get(context.Background(), again, sys); err != nil || again.closureQueries.Load() != 0 {
		t.Errorf("third host queried again (%d) or failed (%v); the success must be cached", again.closureQueries.Load(), err)
	}
}

// stuckRunner never answers until its context ends, like a host whose
// nix-store hangs on a lock.
type stuckRunner struct{ started chan struct{} }

func (r stuckRunner) Run(ctx context.Context, c Cmd) error {
	close(r.started)
	<-ctx.Done()
	return ctx.Err()
}

func TestClosureCacheDoesNotWaitForAStuckHost(t *testing.T) {
	saved := closureWaitPatience
	closureWaitPatience = 50 * time.Millisecond
	t.Cleanup(func() { closureWaitPatience = saved })
	var cache ClosureCache
	sys := "/nix/store/8jh7rcm1bdhy2bfy1q8jz6g5f5qvvf6n-nixos-system-web1-24.05.20240901.abc"
	stuckCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stuck := stuckRunner{started: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := cache.Get(stuckCtx, stuck, sys)
		done <- err
	}()
	<-stuck.started
	ok := &countingRunner{}
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	start := time.Now()
	c, err := cache.Get(ctx, ok, sys)
	if err != nil || c == nil || ok.closureQueries.Load() != 1 {
		t.Fatalf("second host after %v: %v, %d queries; it must ask itself when the first host is stuck",
			time.Since(start), err, ok.closureQueries.Load())
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("the stuck host's query succeeded")
	}
}
