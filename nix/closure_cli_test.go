package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// A small NixOS-like system as a host's store holds it: the top level
// refers to itself, sw to what it selects.
const (
	webSystem = "/nix/store/8jh7rcm1bdhy2bfy1q8jz6g5f5qvvf6n-nixos-system-web1-24.05.20240901.abc"
	webSW     = "/nix/store/5k2sxqk9s6w5cj6lq5rqrgdl2j0pz7ra-system-path"
	webKernel = "/nix/store/1xg0hgxkxv7hvqk9p3cgkq1lq2w2a3fs-linux-6.6.58"
	webBash   = "/nix/store/0i6lxm1l9ykkw0v9q4i8fkk4mmaw1y3p-bash-interactive-5.2p32"
	webHeader = "#root " + webSystem + "\n#sw " + webSW + "\n#kernel " + webKernel + "/bzImage\n#initrd \n#serve\n"
)

func webStore() map[string]servedInfo {
	return map[string]servedInfo{
		webSystem: {refs: []string{webKernel, webSW, webSystem}, narSize: 13872},
		webSW:     {refs: []string{webBash}, narSize: 52224},
		webKernel: {narSize: 136318976},
		webBash:   {narSize: 1599872},
		// Not in the closure: the fake must not send it.
		"/nix/store/9ak5vwq4y3zgzmlxm3jm8d1s0d7ap1rz-unrelated": {narSize: 1},
	}
}

// TestQueryClosure reads a host's closure through the script and
// nix-store --serve, and refuses what a host may send wrong.
func TestQueryClosure(t *testing.T) {
	f := &fakeServe{t: t, header: webHeader, store: webStore()}
	c, err := QueryClosure(context.Background(), f, "/run/current-system")
	if err != nil {
		t.Fatal(err)
	}
	want := &Closure{Root: webSystem, SW: webSW, Kernel: webKernel + "/bzImage",
		Paths: map[string]int64{webSystem: 13872, webSW: 52224, webKernel: 136318976, webBash: 1599872},
		Refs:  []string{webKernel, webSW, webSystem}, SWRefs: []string{webBash}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
	if f.runs.Load() != 1 || f.closureQueries.Load() != 1 || f.infoQueries.Load() != 1 {
		t.Errorf("%d commands, %d closure and %d path info requests; want one each", f.runs.Load(), f.closureQueries.Load(), f.infoQueries.Load())
	}

	notAsked := "/nix/store/9ak5vwq4y3zgzmlxm3jm8d1s0d7ap1rz-unrelated"
	infoWith := func(path string, size uint64, refs ...string) func(*serveWriter, []string) {
		return func(w *serveWriter, _ []string) {
			w.str(path)
			w.str("")
			w.strs(refs)
			w.num(size)
			w.num(size)
			w.str("")
		}
	}
	tests := []struct {
		name string
		f    *fakeServe
		err  string
	}{
		{name: "no header", f: &fakeServe{raw: []byte{}}, err: "truncated output"},
		{name: "header cut", f: &fakeServe{header: "#root " + webSystem + "\n", raw: []byte{}}, err: "truncated output"},
		{name: "garbage", f: &fakeServe{header: "hello\n"}, err: `unexpected output line "hello\n"`},
		{name: "unknown line", f: &fakeServe{header: "#paths\n" + webHeader}, err: `unexpected output line "#paths\n"`},
		{name: "root twice", f: &fakeServe{header: "#root /nix/store/x-y\n" + webHeader}, err: `"root" comes twice`},
		{name: "root off the store", f: &fakeServe{header: "#root /etc\n#serve\n"}, err: `root "/etc" is not a store path`},
		{name: "root inside a store path", f: &fakeServe{header: "#root " + webSystem + "/sw\n#serve\n"}, err: "is not a store path"},
		{name: "sw off the store", f: &fakeServe{header: "#root " + webSystem + "\n#sw /etc/sw\n#serve\n"}, err: `sw "/etc/sw" is not a store path`},
		{name: "endless line", f: &fakeServe{header: "#kernel " + strings.Repeat("k", 70<<10)}, err: "longer than"},
		{name: "wrong greeting", f: &fakeServe{greeting: 0x12345678}, err: "nix-store --serve: greeting: not a nix-store --serve greeting (0x12345678)"},
		{name: "protocol 3", f: &fakeServe{version: 0x301}, err: "protocol version 0x301"},
		{name: "closure off the store", f: &fakeServe{closureReply: func([]string) []string { return []string{"/etc/passwd"} }}, err: `"/etc/passwd" is not a store path`},
		{name: "closure inside a path", f: &fakeServe{closureReply: func([]string) []string { return []string{webBash + "/bin/bash"} }}, err: "is not a store path"},
		{name: "a path too long", f: &fakeServe{closureReply: func([]string) []string { return []string{"/nix/store/" + strings.Repeat("a", 5000)} }}, err: "a string of 5011 bytes"},
		{name: "info not asked for", f: &fakeServe{infoReply: infoWith(notAsked, 1)}, err: "which was not asked for"},
		{name: "reference off the store", f: &fakeServe{infoReply: infoWith(webSystem, 1, "/etc/shadow")}, err: `"/etc/shadow" is not a store path`},
		{name: "huge size", f: &fakeServe{infoReply: infoWith(webSystem, 1<<63)}, err: "NAR size 9223372036854775808"},
		{name: "root unknown", f: &fakeServe{infoReply: infoWith(webSW, 1)}, err: "nothing known about " + webSystem},
		{name: "reference unknown", f: &fakeServe{closureReply: func([]string) []string { return []string{webSystem} },
			infoReply: infoWith(webSystem, 1, webKernel)}, err: "nothing known about " + webKernel + ", in the closure of " + webSystem},
		{name: "padding", f: &fakeServe{closureReply: func([]string) []string { return nil },
			infoReply: func(w *serveWriter, _ []string) { w.num(1); w.buf = append(w.buf, "/xxxxxxx"...) }}, err: "padding is not zeros"},
		{name: "host fails", f: &fakeServe{raw: []byte{}, err: &ExitError{Code: 1, Stderr: "readlink: /run/current-system: No such file"}}, err: "No such file"},
		{name: "nix-store fails", f: &fakeServe{header: webHeader, raw: []byte{0xeb, 0x9d}, err: &ExitError{Code: 1, Stderr: "error: path '/nix/store/x' is not valid"}}, err: "is not valid"},
		{name: "reply cut", f: &fakeServe{header: webHeader, raw: []byte{0xeb, 0x9d}}, err: "the reply ends early"},
		{name: "connection lost", f: &fakeServe{raw: []byte{}, err: fmt.Errorf("web1: %w", ErrConnectionLost)}, err: "connection lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			f.t, f.store = t, webStore()
			if f.header == "" && f.raw == nil {
				f.header = webHeader
			}
			_, err := QueryClosure(context.Background(), f, "/run/current-system")
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want %q", err, tt.err)
			}
			if errors.Is(f.err, ErrConnectionLost) && !errors.Is(err, ErrConnectionLost) {
				t.Errorf("err = %v does not wrap ErrConnectionLost", err)
			}
		})
	}
}

// TestQueryClosureSWOutside: an sw the closure does not hold is asked
// about on its own, and stays out of the closure's paths.
func TestQueryClosureSWOutside(t *testing.T) {
	store := webStore()
	store[webSystem] = servedInfo{refs: []string{webKernel}, narSize: 13872}
	f := &fakeServe{t: t, header: webHeader, store: store}
	c, err := QueryClosure(context.Background(), f, webSystem)
	if err != nil {
		t.Fatal(err)
	}
	if _, in := c.Paths[webSW]; in || len(c.Paths) != 2 || !slices.Equal(c.SWRefs, []string{webBash}) {
		t.Errorf("paths %v, sw refs %v", c.Paths, c.SWRefs)
	}
}

// TestQueryClosureOrder: a closure with versions spelt apart gets the
// order nix-store -qR would list it in, from the references it came with.
func TestQueryClosureOrder(t *testing.T) {
	const (
		eq10 = "/nix/store/0i6lxm1l9ykkw0v9q4i8fkk4mmaw1y3p-eq-1.0"
		eq1_ = "/nix/store/1xg0hgxkxv7hvqk9p3cgkq1lq2w2a3fs-eq-1-0"
	)
	store := map[string]servedInfo{webSystem: {refs: []string{eq10, eq1_}}, eq10: {refs: []string{eq1_}}, eq1_: {}}
	f := &fakeServe{t: t, header: "#root " + webSystem + "\n#serve\n", store: store}
	c, err := QueryClosure(context.Background(), f, webSystem)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{eq1_, eq10, webSystem}; !slices.Equal(c.Order, want) {
		t.Errorf("order %v, want %v", c.Order, want)
	}
}

// TestQueryClosureCapsOutput: a host that prints without end is stopped
// at MaxClosureOutput with an error saying so.
func TestQueryClosureCapsOutput(t *testing.T) {
	// A greeting, then a closure of 2^40 paths, all valid.
	var hello serveWriter
	hello.num(serveMagic2)
	hello.num(0x207)
	hello.num(1 << 40)
	f := &fakeServe{t: t, header: webHeader, raw: hello.buf, flood: bytes.Repeat(wireBytes(webBash), 1000)}
	_, err := QueryClosure(context.Background(), f, "/run/current-system")
	if err == nil || err.Error() != "query closure of /run/current-system: sent more than 64 MiB for the closure" {
		t.Errorf("got %v", err)
	}
}

// webHost is a host running webSystem; it counts its commands (runs).
func webHost(t *testing.T) *fakeServe { return &fakeServe{t: t, header: webHeader, store: webStore()} }

func TestClosureCacheSharesQueries(t *testing.T) {
	var cache ClosureCache
	hosts := make([]*fakeServe, 6)
	var wg sync.WaitGroup
	for i := range hosts {
		hosts[i] = webHost(t)
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
		total += int(h.runs.Load())
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
	ok := webHost(t)
	c, err := cache.Get(context.Background(), ok, sys)
	if err != nil || c == nil || ok.runs.Load() != 1 {
		t.Fatalf("second host: %v, %d queries; the failure must not be cached", err, ok.runs.Load())
	}
	again := webHost(t)
	if _, err := cache.Get(context.Background(), again, sys); err != nil || again.runs.Load() != 0 {
		t.Errorf("third host queried again (%d) or failed (%v); the success must be cached", again.runs.Load(), err)
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
	ok := webHost(t)
	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	start := time.Now()
	c, err := cache.Get(ctx, ok, sys)
	if err != nil || c == nil || ok.runs.Load() != 1 {
		t.Fatalf("second host after %v: %v, %d queries; it must ask itself when the first host is stuck",
			time.Since(start), err, ok.runs.Load())
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("the stuck host's query succeeded")
	}
}
