package fleet_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestBuildPushesSignedToCache: a fleet with cache.push and sign_key
// pushes its systems to the lab's file:// cache after the build, once,
// with progress; Nix then verifies every path there against the cache's
// public key. First from this machine's store (build_on: local), then
// straight from a builder's (build_on: builder:build01).
func TestBuildPushesSignedToCache(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartWith(t, lab.Options{Hosts: 2, Builders: 1, Cache: true})
	c, err := l.Cache()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, where := range []string{"local", "builder:build01", "broken cache"} {
		t.Run(where, func(t *testing.T) {
			switch where {
			case "builder:build01":
				setBuildOn(t, l, where)
			case "broken cache":
				setCachePush(t, l, "file:///proc/nixdeck-no-cache")
			}
			if err := l.Change("", lab.ChangeOptions{Bump: true}); err != nil {
				t.Fatal(err)
			}
			o := openOpsLab(t, l)
			if o.f.Cache == nil || o.f.Cache.SignKey == "" {
				t.Fatalf("the lab's fleet file has no cache to push to: %+v", o.f.Cache)
			}
			var nodes []*fleet.Node
			for _, h := range l.Nodes() {
				nodes = append(nodes, o.node(t, h.Name))
			}
			systems := map[string]string{}
			var pushes []fleet.CachePushEvent
			for e := range o.eng.BuildToDeploy(ctx, nodes, t.TempDir()).All() {
				switch e := e.(type) {
				case fleet.BuiltEvent:
					systems[e.Host()] = e.System
				case fleet.CachePushEvent:
					pushes = append(pushes, e)
				case fleet.DoneEvent:
					if e.Err != nil {
						t.Fatalf("build: %v", e.Err)
					}
				case fleet.OpFinished:
					if e.Err != nil {
						t.Fatalf("build: %v", e.Err)
					}
				}
			}
			if len(pushes) == 0 {
				t.Fatal("no push event")
			}
			last := pushes[len(pushes)-1]
			if where == "broken cache" {
				// The nodes keep their systems; the push says why it failed.
				if len(systems) != 2 || !last.Done || last.Err == nil || !strings.Contains(last.Err.Error(), "file:///proc/nixdeck-no-cache") ||
					!strings.Contains(last.Err.Error(), "builder:build01") {
					t.Errorf("systems %v, last push event %+v", systems, last)
				}
				t.Logf("push to a broken cache: %v", last.Err)
				return
			}
			if len(pushes) < 2 || !last.Done || last.Err != nil || last.Paths == 0 || last.Paths != last.PathsTotal || last.Bytes <= 0 ||
				strings.Contains(last.Cache, "secret") {
				t.Errorf("last push event %+v", last)
			}
			t.Logf("pushed %d of %d paths, %d bytes, in %d events", last.Paths, last.PathsTotal, last.Bytes, len(pushes))
			for _, p := range systems {
				verify := exec.CommandContext(ctx, "nix", "--extra-experimental-features", "nix-command", "store", "verify",
					"--store", c.PushURI, "--trusted-public-keys", c.PublicKey, "--recursive", p)
				if out, err := verify.CombinedOutput(); err != nil {
					t.Errorf("%s in the cache: %v\n%s", p, err, out)
				}
			}
		})
	}
}

// setCachePush makes the lab's fleet file push to uri.
func setCachePush(t *testing.T, l *lab.Lab, uri string) {
	t.Helper()
	b, err := os.ReadFile(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "  push: ") {
			lines[i] = "  push: " + uri
		}
	}
	if err := os.WriteFile(l.FleetPath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
