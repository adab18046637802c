package nix_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestSubstituteOnDestinationLocal copies a closure to chroot stores
// that substitute from a signed cache served over HTTP here, as a lab
// host's does: Nix itself refuses or fetches, and nixdeck reads why.
func TestSubstituteOnDestinationLocal(t *testing.T) {
	needChrootStore(t)
	sys := nixtest.SizedClosure(t, 4, 64<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "key.sec"), filepath.Join(dir, "key.pub")
	cache := filepath.Join(dir, "cache")
	run(t, "nix-store", "--generate-binary-cache-key", "nixdeck-test-1", key, pub)
	run(t, nix.NixCmd("copy", "--to", "file://"+cache+"?secret-key="+key, sys)...)
	trusted, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	nars := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/nar/") {
			mu.Lock()
			nars++
			mu.Unlock()
		}
		http.FileServer(http.Dir(cache)).ServeHTTP(w, r)
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // its port now refuses connections

	copyWith := func(url, key string) (nix.CopyResult, string) {
		t.Helper()
		target, root := chrootStore(t)
		target.Env = append(target.Env, "XDG_CACHE_HOME="+t.TempDir(),
			"NIX_CONFIG=substituters = "+url+"\ntrusted-public-keys = "+key+"\n")
		res, err := nix.Copy(ctx, nix.LocalRunner{}, target, nix.CopyRequest{Paths: []string{sys}, Substitute: true})
		if err != nil {
			t.Fatalf("copy from %s: %v", url, err)
		}
		if _, err := os.Stat(filepath.Join(root, sys)); err != nil {
			t.Errorf("copy from %s: the system is not in the store: %v", url, err)
		}
		return res, root
	}

	res, _ := copyWith(srv.URL, strings.TrimSpace(string(trusted)))
	if res.FromCache != 5 || len(res.Missing) != 0 || res.Bytes != 0 || res.CacheProblem != "" || nars != 5 {
		t.Errorf("trusted cache: %+v, %d NARs fetched; want all 5 paths from the cache", res, nars)
	}
	wrong := "other-1:" + strings.SplitN(strings.TrimSpace(string(trusted)), ":", 2)[1]
	res, _ = copyWith(srv.URL, wrong)
	if res.FromCache != 0 || len(res.Missing) != 5 || res.Bytes == 0 || res.CacheProblem != nix.SubstUntrusted ||
		!strings.Contains(res.CacheDetail, "not signed by any of the keys in 'trusted-public-keys'") {
		t.Errorf("untrusted cache: %+v; want everything sent, untrusted", res)
	}
	res, _ = copyWith(closed.URL, strings.TrimSpace(string(trusted)))
	if res.FromCache != 0 || len(res.Missing) != 5 || res.CacheProblem != nix.SubstUnreachable ||
		!strings.Contains(res.CacheDetail, "unable to download '"+closed.URL) {
		t.Errorf("cache down: %+v; want everything sent, unreachable", res)
	}
}

// run runs argv here, failing the test with its output.
func run(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

// TestReadSubstitutersLocal reads this machine's Nix settings as a host's
// are read, with a cache set through NIX_CONFIG.
func TestReadSubstitutersLocal(t *testing.T) {
	nixtest.NeedNix(t)
	key := "nixdeck-test-1:AaNq7Hr55FPAas5RLoNjMR0LH4s7FC1E/M2/tfy73LU="
	r := nix.LocalRunner{Env: append(os.Environ(), "NIX_CONFIG=substituters = http://127.0.0.1:9/\ntrusted-public-keys = "+key+"\nrequire-sigs = true\n")}
	c, err := nix.ReadSubstituters(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CacheStatus("http://127.0.0.1:9", key); got != nix.CacheOK || len(c.Substituters) != 1 {
		t.Errorf("%+v: %q", c, got)
	}
}
