package lab

import (
	"strings"
	"testing"
)

// TestParseAccessLog checks the reading of the cache server's access log:
// requests in order, a line nginx is still writing left out, and lines
// that are not requests, or too long, refused with their number.
func TestParseAccessLog(t *testing.T) {
	good := `{"remote":"127.0.0.1","method":"GET","path":"/nix-cache-info","status":200,"bytes":51}
{"remote":"127.0.0.1","method":"GET","path":"/nar/x.nar.xz","status":404,"bytes":153}
`
	fs, err := parseAccessLog(strings.NewReader(good + `{"remote":"127.0.0.1","meth`))
	if err != nil {
		t.Fatal(err)
	}
	want := []CacheFetch{
		{Path: "/nix-cache-info", Method: "GET", Status: 200, Bytes: 51, Remote: "127.0.0.1"},
		{Path: "/nar/x.nar.xz", Method: "GET", Status: 404, Bytes: 153, Remote: "127.0.0.1"},
	}
	if len(fs) != len(want) || fs[0] != want[0] || fs[1] != want[1] {
		t.Errorf("got %+v, want %+v", fs, want)
	}
	for _, tc := range []struct{ name, log, err string }{
		{"not json", good + "GET / 200\n", "line 3: not a request"},
		{"unknown field", `{"remote":"x","status":200,"bytes":1,"evil":1}` + "\n", "line 1: not a request"},
		{"bad status", `{"status":0,"bytes":1}` + "\n", "line 1: not a request"},
		{"negative size", `{"status":200,"bytes":-1}` + "\n", "line 1: not a request"},
		{"two objects", `{"status":200,"bytes":1}{"status":200,"bytes":1}` + "\n", "line 1: not a request"},
		{"long line", `{"path":"` + strings.Repeat("a", maxAccessLogLine) + `"}` + "\n", "line 1: longer than"},
	} {
		_, err := parseAccessLog(strings.NewReader(tc.log))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		}
	}
}

// TestHostNixConf checks what each kind of host's nix.conf says: no
// substituter without a cache, the cache and its key with one, no key on
// an untrusting host, and a builder's parallelism.
func TestHostNixConf(t *testing.T) {
	c := &Cache{URL: "http://127.0.0.1:8080", PublicKey: "nixdeck-lab-1:abc="}
	for _, tc := range []struct {
		name      string
		h         Host
		cache     *Cache
		has, lacs []string
	}{
		{"no cache", Host{Name: "canary"}, nil, []string{"substituters =\n", "build-users-group =\n", "sandbox = false\n", "max-jobs = 1\n"}, []string{"trusted-public-keys"}},
		{"cache", Host{Name: "web01"}, c, []string{"substituters = http://127.0.0.1:8080\n", "trusted-public-keys = nixdeck-lab-1:abc=\n"}, nil},
		{"untrusting", Host{Name: "web01", CacheUntrusted: true}, c, []string{"substituters = http://127.0.0.1:8080\n", "trusted-public-keys =\n"}, []string{"abc="}},
		{"builder", Host{Name: "build01", Builder: true}, nil, []string{"max-jobs = 4\n", "cores = 0\n"}, []string{"max-jobs = 1"}},
	} {
		conf := hostNixConf(tc.h, tc.cache)
		for _, s := range tc.has {
			if !strings.Contains(conf, "\n"+s) {
				t.Errorf("%s: no %q in\n%s", tc.name, s, conf)
			}
		}
		for _, s := range tc.lacs {
			if strings.Contains(conf, s) {
				t.Errorf("%s: %q in\n%s", tc.name, s, conf)
			}
		}
	}
}
