package nix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recordingRunner runs commands locally and keeps what they printed, to
// check what a host would have sent.
type recordingRunner struct {
	mu    sync.Mutex
	runs  int
	out   bytes.Buffer
	inner Runner
}

func (r *recordingRunner) Run(ctx context.Context, c Cmd) error {
	r.mu.Lock()
	r.runs++
	r.mu.Unlock()
	var out bytes.Buffer
	w := c.Stdout
	c.Stdout = &out
	err := r.inner.Run(ctx, c)
	r.mu.Lock()
	r.out.Write(out.Bytes())
	r.mu.Unlock()
	if w != nil {
		w.Write(out.Bytes())
	}
	return err
}

// hostileStore builds a store (etcStoreDir for the test) beside a
// directory "outside" holding a sentinel file, a FIFO (which would hang
// whoever opened it) and a directory, and a system whose etc/ reaches for
// them in every way a link can. It returns the system and the sentinel.
func hostileStore(t *testing.T) (sys, secret string) {
	t.Helper()
	base := t.TempDir()
	store, outside := filepath.Join(base, "store"), filepath.Join(base, "outside")
	saved := etcStoreDir
	etcStoreDir = store
	t.Cleanup(func() { etcStoreDir = saved })
	secret = "SENTINEL " + filepath.Base(base) + "\n"
	mk := func(p string) string {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write := func(p, content string) {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(outside, "dir"))
	write(filepath.Join(outside, "secret"), secret)
	write(filepath.Join(outside, "dir", "secret2"), secret)
	if err := syscall.Mkfifo(filepath.Join(outside, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	write(mk(filepath.Join(store, "aaa-hosts"))+"/hosts", "127.0.0.1 localhost\n")
	etc := mk(filepath.Join(store, "bbb-etc", "etc"))
	sys = mk(filepath.Join(store, "ccc-system"))
	link(etc, filepath.Join(sys, "etc"))
	link(filepath.Join(outside, "secret"), filepath.Join(store, "ddd-abs"))
	link("../outside/secret", filepath.Join(store, "eee-rel"))
	link(filepath.Join(outside, "dir"), filepath.Join(store, "fff-outdir"))
	link("ggg-loop-b", filepath.Join(store, "ggg-loop-a"))
	link("ggg-loop-a", filepath.Join(store, "ggg-loop-b"))
	via := mk(filepath.Join(store, "hhh-via"))
	link("../../outside/secret", filepath.Join(via, "x"))
	write(filepath.Join(via, "ok.conf"), "fine\n")
	if err := syscall.Mkfifo(filepath.Join(etc, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk(filepath.Join(etc, "empty.d"))
	write(filepath.Join(etc, "we\nird = name\t"), "odd\n")

	for name, target := range map[string]string{
		"hosts":     store + "/aaa-hosts/hosts",
		"abs":       outside + "/secret",
		"rel":       "../../../outside/secret",
		"dotdot":    store + "/../outside/secret",
		"dotdot2":   store + "/bbb-etc/../../outside/secret",
		"indirect":  store + "/eee-rel",
		"indirect2": store + "/ddd-abs",
		"mid":       store + "/fff-outdir/secret2",
		"zero":      "/dev/zero",
		"fifo":      outside + "/fifo",
		"relfifo":   "../../../outside/fifo",
		"root":      "/",
		"storeroot": store,
		"outdir":    outside + "/dir",
		"reldir":    "../../../outside/dir",
		"via":       store + "/hhh-via",
		"dangling":  store + "/zzz-missing",
		"loop":      store + "/ggg-loop-a",
		"up":        "..",
		"nothere":   "no-such-file",
	} {
		link(target, filepath.Join(etc, name))
	}
	return sys, secret
}

// TestEtcNeverLeavesTheStore lists a hostile etc/ locally and through the
// host script, and checks that nothing outside the store was read: the
// sentinel's content and hash appear nowhere, the FIFOs did not hang the
// walk, and every escaping link is compared by its own target text.
func TestEtcNeverLeavesTheStore(t *testing.T) {
	sys, secret := hostileStore(t)
	store := etcStoreDir
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	local := listOrHang(t, ctx, LocalTree(sys))
	host := &recordingRunner{inner: LocalRunner{}}
	remote := listOrHang(t, ctx, RemoteTree{Runner: host, Root: sys})
	if !reflect.DeepEqual(local, remote) {
		t.Errorf("local and remote listings differ:\n%+v\n%+v", local, remote)
	}
	// One round trip, and one more for the loop of relative links that
	// the host script does not chase.
	if host.runs != 2 {
		t.Errorf("listing took %d round trips, want 2", host.runs)
	}

	hostsSum := sha256.Sum256([]byte("127.0.0.1 localhost\n"))
	outside := filepath.Join(filepath.Dir(store), "outside")
	want := map[string]FileSum{
		"hosts":            {Kind: KindFile, Size: 20, SHA256: hostsSum, Path: store + "/aaa-hosts/hosts"},
		"abs":              {Kind: KindLink, Link: outside + "/secret"},
		"rel":              {Kind: KindLink, Link: "../../../outside/secret"},
		"dotdot":           {Kind: KindLink, Link: store + "/../outside/secret"},
		"dotdot2":          {Kind: KindLink, Link: store + "/bbb-etc/../../outside/secret"},
		"indirect":         {Kind: KindLink, Link: store + "/eee-rel"},
		"indirect2":        {Kind: KindLink, Link: store + "/ddd-abs"},
		"mid":              {Kind: KindLink, Link: store + "/fff-outdir/secret2"},
		"zero":             {Kind: KindLink, Link: "/dev/zero"},
		"fifo":             {Kind: KindLink, Link: outside + "/fifo"},
		"relfifo":          {Kind: KindLink, Link: "../../../outside/fifo"},
		"root":             {Kind: KindLink, Link: "/"},
		"storeroot":        {Kind: KindLink, Link: store},
		"outdir":           {Kind: KindLink, Link: outside + "/dir"},
		"reldir":           {Kind: KindLink, Link: "../../../outside/dir"},
		"via/x":            {Kind: KindLink, Link: "../../outside/secret"},
		"via/ok.conf":      {Kind: KindFile, Size: 5, SHA256: sha256.Sum256([]byte("fine\n")), Path: store + "/hhh-via/ok.conf"},
		"dangling":         {Kind: KindDangling, Link: store + "/zzz-missing"},
		"loop":             {Kind: KindDangling, Link: store + "/ggg-loop-a"},
		"up":               {Kind: KindLink, Link: ".."},
		"nothere":          {Kind: KindDangling, Link: "no-such-file"},
		"pipe":             {Kind: KindSpecial},
		"empty.d":          {Kind: KindDir},
		"we\nird = name\t": {Kind: KindFile, Size: 4, SHA256: sha256.Sum256([]byte("odd\n")), Path: store + "/bbb-etc/etc/we\nird = name\t"},
	}
	if !reflect.DeepEqual(local, want) {
		for k, v := range want {
			if local[k] != v {
				t.Errorf("%q: got %+v, want %+v", k, local[k], v)
			}
		}
		for k, v := range local {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %q: %+v", k, v)
			}
		}
	}

	// Against an empty etc/, every entry shows as added; the diff, its
	// JSON and what the host sent never carry the sentinel.
	empty := filepath.Join(store, "iii-empty")
	os.MkdirAll(filepath.Join(empty, "etc"), 0o755)
	diffs, err := DiffEtc(ctx, LocalTree(empty), RemoteTree{Runner: host, Root: sys})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, f := range diffs {
		text.WriteString(f.Render(nil))
	}
	js, _ := json.Marshal(diffs)
	secretSum := sha256.Sum256([]byte(secret))
	for what, b := range map[string][]byte{"diff": []byte(text.String()), "JSON": js, "host output": host.out.Bytes()} {
		if bytes.Contains(b, []byte("SENTINEL")) || bytes.Contains(b, []byte(hex.EncodeToString(secretSum[:]))) ||
			bytes.Contains(b, []byte("secret2")) && !bytes.Contains(b, []byte("fff-outdir/secret2")) {
			t.Errorf("%s carries a file from outside the store:\n%s", what, b)
		}
	}
	for _, line := range []string{
		"etc/empty.d: added, absent -> empty directory\n",
		"etc/dangling: added, absent -> dangling link to " + store + "/zzz-missing\n",
		"etc/rel: added, absent -> link to ../../../outside/secret\n",
		"etc/pipe: added, absent -> special file\n",
		"--- /dev/null\n+++ b/etc/hosts\n@@ -0,0 +1 @@\n+127.0.0.1 localhost\n",
	} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("diff lacks %q:\n%s", line, text.String())
		}
	}
}

// listOrHang lists tree, failing the test (rather than hanging it) if a
// FIFO was opened.
func listOrHang(t *testing.T, ctx context.Context, tree FileTree) map[string]FileSum {
	t.Helper()
	type result struct {
		m   map[string]FileSum
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := tree.List(ctx)
		done <- result{m, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.m
	case <-ctx.Done():
		t.Fatalf("%T.List did not return: it opened a FIFO?", tree)
	}
	return nil
}
