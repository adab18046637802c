package nixtest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"nixdeck/nix"
)

// Cache is a signed binary cache of this machine's paths, served over
// HTTP on 127.0.0.1, for hosts (chroot stores) to substitute from.
type Cache struct {
	// URL is where it is served; PublicKey is the key its paths are
	// signed with ("name:base64").
	URL, PublicKey string
	// NARs counts the NAR downloads served.
	NARs atomic.Int64
}

// ServeCache pushes the closures of paths, signed, into a new file://
// cache (`nix copy --to file://DIR?secret-key=…`, as an operator's push
// does) and serves it until the test ends.
func ServeCache(t testing.TB, paths ...string) *Cache {
	t.Helper()
	dir := t.TempDir()
	key, pub, store := filepath.Join(dir, "key.sec"), filepath.Join(dir, "key.pub"), filepath.Join(dir, "cache")
	run(t, "nix-store", "--generate-binary-cache-key", "nixdeck-test-1", key, pub)
	run(t, nix.NixCmd(append([]string{"copy", "--to", "file://" + store + "?secret-key=" + key}, paths...)...)...)
	b, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cache{PublicKey: strings.TrimSpace(string(b))}
	files := http.FileServer(http.Dir(store))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/nar/") {
			c.NARs.Add(1)
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

// DownURL is the URL of a cache that is down: nothing listens there.
func DownURL() string {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// OtherKey is a key with the cache's key's bytes under another name: a
// host trusting only it refuses the cache's paths.
func (c *Cache) OtherKey() string {
	_, b64, _ := strings.Cut(c.PublicKey, ":")
	return "other-1:" + b64
}

// SubstituteEnv is the environment a chroot store's commands substitute
// from url with, trusting key, with a disk cache of their own (Nix
// remembers caches' answers there).
func SubstituteEnv(t testing.TB, url, key string) []string {
	return []string{"XDG_CACHE_HOME=" + t.TempDir(), "NIX_CONFIG=substituters = " + url + "\ntrusted-public-keys = " + key + "\n"}
}

// run runs argv here, failing the test with its output.
func run(t testing.TB, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}
