package lab_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestCacheServerLifecycle checks the cache's nginx as a lab daemon: it
// serves the cache's nix-cache-info and logs the request, a crashed server
// (SIGKILL, as the OOM killer would) is started again by StartCache on
// its port, `lab up` in the same directory replaces it, and `lab down`
// leaves no server running.
func TestCacheServerLifecycle(t *testing.T) {
	l := labtest.StartWith(t, lab.Options{Hosts: 1, Cache: true})
	c, err := l.Cache()
	if err != nil {
		t.Fatal(err)
	}
	get(t, c.URL+"/nix-cache-info", "StoreDir: /nix/store\n")
	fs, err := l.CacheFetches()
	if err != nil || len(fs) != 1 || fs[0].Path != "/nix-cache-info" || fs[0].Status != 200 || fs[0].Bytes == 0 || fs[0].Remote != "127.0.0.1" {
		t.Fatalf("access log: %+v, %v", fs, err)
	}
	pids := l.CacheServerPids()
	if len(pids) != 1 {
		t.Fatalf("cache server processes: %v", pids)
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// StopCache waits until it has exited (the kill is asynchronous).
	if err := l.StopCache(); err != nil {
		t.Fatal(err)
	}
	if err := l.StartCache(); err != nil {
		t.Fatal(err)
	}
	if again := l.CacheServerPids(); len(again) != 1 || again[0] == pids[0] {
		t.Fatalf("after a crash and StartCache: %v", again)
	}
	get(t, c.URL+"/nix-cache-info", "StoreDir: /nix/store\n")

	// A new lab in the same directory takes the old server down first.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	old := l.CacheServerPids()
	l2, err := lab.Up(ctx, lab.Options{Dir: l.Dir, Hosts: 1, Cache: true})
	if err != nil {
		t.Fatal(err)
	}
	if now := l2.CacheServerPids(); len(now) != 1 || now[0] == old[0] {
		t.Errorf("servers after a new lab up: %v (old %v)", now, old)
	}
	if err := l2.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if left := l2.CacheServerPids(); len(left) != 0 {
		t.Errorf("cache server still running after lab down: %v", left)
	}
}

// get fetches url and checks that the body starts with want.
func get(t *testing.T, url, want string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(b), want) {
		t.Fatalf("GET %s: %s %q %v", url, resp.Status, b, err)
	}
}
