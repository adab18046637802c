package lab_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestCache checks on a real lab with a binary cache — hosts on the
// machine's Nix 2.8 and on current Nix — that each host reads its own
// nix.conf over SSH, that a path pushed to the cache is substituted by a
// trusting host over HTTP (the server's log shows the NAR fetched), that an
// untrusting host refuses it, through its Nix daemon too, and that a cache
// that is down fails the fetch until it is started again.
func TestCache(t *testing.T) {
	// As the Makefile has it: the operator's Nix keeps off caches, and
	// the hosts' must not inherit that (through Exec, their daemons, sshd).
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartWith(t, lab.Options{Hosts: 3, Current: 1, Builders: 1, Cache: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cache, err := l.Cache()
	if err != nil {
		t.Fatal(err)
	}
	checkFleetFile(t, l, cache)
	if err := l.SetCacheTrust("web01", false); err != nil {
		t.Fatal(err)
	}
	clients := map[string]*remote.Client{}
	for _, h := range l.Hosts {
		c, err := dial(ctx, l, h)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[h.Name] = c
	}

	// Each host's Nix reads its own nix.conf, whatever the session's
	// environment says; canary trusts the key, web01 does not.
	want := map[string][]string{
		"canary":  {"substituters = " + cache.URL + "\n", "trusted-public-keys = " + cache.PublicKey + "\n", "max-jobs = 1\n"},
		"web01":   {"substituters = " + cache.URL + "\n", "trusted-public-keys = \n"},
		"db01":    {"substituters = " + cache.URL + "\n", "trusted-public-keys = " + cache.PublicKey + "\n"},
		"build01": {"substituters = " + cache.URL + "\n", "max-jobs = 4\n"},
	}
	for name, lines := range want {
		conf, err := run(ctx, clients[name], "nix", "--extra-experimental-features", "nix-command", "show-config")
		if err != nil {
			t.Fatalf("%s: nix show-config: %v: %s", name, err, conf)
		}
		for _, line := range lines {
			if !strings.Contains(conf, "\n"+line) {
				t.Errorf("%s: Nix's configuration lacks %q:\n%s", name, line, conf)
			}
		}
	}
	viaExec, err := l.Exec(ctx, "canary", []string{"nix", "--extra-experimental-features", "nix-command", "show-config"}, nil)
	if err != nil || !strings.Contains(string(viaExec), "\nsubstituters = "+cache.URL+"\n") {
		t.Errorf("canary through Exec: %v: the host's substituters are overridden:\n%s", err, viaExec)
	}
	canaryConf, _ := l.NixConf("canary")
	webConf, _ := l.NixConf("web01")
	if canaryConf == webConf || !strings.Contains(canaryConf, "host canary") {
		t.Errorf("canary and web01 share a nix.conf:\n%s", canaryConf)
	}

	// A trusting host on each Nix substitutes a pushed path over HTTP.
	p := pushNew(t, ctx, cache, "subst")
	for _, name := range []string{"canary", "db01"} {
		before := narFetches(t, l)
		if out, err := run(ctx, clients[name], "nix-store", "--realise", p); err != nil {
			t.Fatalf("%s: substituting %s: %v: %s", name, p, err, out)
		}
		if narFetches(t, l) != before+1 {
			t.Errorf("%s: the cache's log shows %d NAR fetches, want %d", name, narFetches(t, l), before+1)
		}
		if out, err := run(ctx, clients[name], "nix-store", "--check-validity", p); err != nil {
			t.Errorf("%s: %s not valid after substitution: %v: %s", name, p, err, out)
		}
	}
	if !fetched(t, l, "/"+hashPart(p)+".narinfo") {
		t.Errorf("the cache's log has no GET of %s's narinfo", p)
	}

	// The untrusting host refuses it, as root and through its daemon.
	before := narFetches(t, l)
	out, err := run(ctx, clients["web01"], "nix-store", "--realise", p)
	if err == nil || !strings.Contains(out, "not signed by any of the keys") {
		t.Errorf("web01 (untrusting) substituted %s: %v: %s", p, err, out)
	}
	deploy, err := dialAs(ctx, l, l.Hosts[1], lab.DeployUser)
	if err != nil {
		t.Fatal(err)
	}
	defer deploy.Close()
	if out, err := run(ctx, deploy, "nix-store", "--realise", p); err == nil {
		t.Errorf("web01's daemon substituted %s without trusting the key: %s", p, out)
	}
	if n := narFetches(t, l); n != before {
		t.Errorf("web01 fetched %d NARs it does not trust", n-before)
	}
	// Trusting again restarts the daemon with the key.
	if err := l.SetCacheTrust("web01", true); err != nil {
		t.Fatal(err)
	}
	if out, err := run(ctx, deploy, "nix-store", "--realise", p); err != nil {
		t.Errorf("web01's daemon, trusting again: %v: %s", err, out)
	}

	// A cache that is down: the fetch fails, and works once it is up.
	q := pushNew(t, ctx, cache, "down")
	if err := l.StopCache(); err != nil {
		t.Fatal(err)
	}
	if out, err := run(ctx, clients["canary"], "nix-store", "--realise", q); err == nil {
		t.Errorf("canary substituted %s from a cache that is down: %s", q, out)
	}
	if err := l.StartCache(); err != nil {
		t.Fatal(err)
	}
	if out, err := run(ctx, clients["canary"], "nix-store", "--realise", q); err != nil {
		t.Errorf("canary, cache up again: %v: %s", err, out)
	}
}

// checkFleetFile loads the lab's fleet file as nixdeck does and checks its
// nodes, builders and cache.
func checkFleetFile(t *testing.T, l *lab.Lab, cache *lab.Cache) {
	t.Helper()
	f, err := fleet.Load(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Nodes) != len(l.Nodes()) || len(f.Builders) != len(l.Builders()) {
		t.Errorf("fleet file: %d nodes, %d builders; the lab has %d and %d", len(f.Nodes), len(f.Builders), len(l.Nodes()), len(l.Builders()))
	}
	for i, b := range l.Builders() {
		if i < len(f.Builders) {
			fb := f.Builders[i]
			if fb.Name != b.Name || fb.Host != "127.0.0.1" || fb.Port != b.Port || fb.MaxJobs != 4 || len(fb.Systems) != 1 || fb.Node().KnownHosts == "" {
				t.Errorf("builder %s in the fleet file: %+v", b.Name, fb)
			}
		}
	}
	for _, n := range f.Nodes {
		if n.SubstituteOnDestination != (cache != nil) {
			t.Errorf("%s: substitute_on_destination %v with cache %v", n.Name, n.SubstituteOnDestination, cache != nil)
		}
	}
	switch {
	case cache == nil && f.Cache != nil:
		t.Errorf("fleet file has a cache: %+v", f.Cache)
	case cache != nil && (f.Cache == nil || f.Cache.Push != cache.PushURI || f.Cache.SignKey != cache.SecretKey ||
		f.Cache.Substituter != cache.URL || f.Cache.PublicKey != cache.PublicKey):
		t.Errorf("fleet file cache %+v, lab cache %+v", f.Cache, cache)
	}
}

// pushNew builds a derivation output no store has yet on this machine and
// pushes it, signed, to the cache; it returns its store path.
func pushNew(t *testing.T, ctx context.Context, c *lab.Cache, tag string) string {
	t.Helper()
	expr := fmt.Sprintf(`derivation { name = "lab-cache-%s"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo %s-%d > $out"]; }`,
		tag, tag, time.Now().UnixNano())
	out, err := exec.CommandContext(ctx, "nix-build", "--no-out-link", "-E", expr).Output()
	if err != nil {
		t.Fatalf("nix-build: %v", err)
	}
	p := strings.TrimSpace(string(out))
	if b, err := exec.CommandContext(ctx, "nix", "--extra-experimental-features", "nix-command", "copy",
		"--to", c.PushURI+"?secret-key="+c.SecretKey, p).CombinedOutput(); err != nil {
		t.Fatalf("nix copy to the cache: %v: %s", err, b)
	}
	return p
}

// hashPart is the hash of a store path, which names its narinfo.
func hashPart(p string) string {
	h, _, _ := strings.Cut(strings.TrimPrefix(p, "/nix/store/"), "-")
	return h
}

// narFetches counts the NARs the cache's server has sent.
func narFetches(t *testing.T, l *lab.Lab) int {
	t.Helper()
	n := 0
	fs, err := l.CacheFetches()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if strings.HasPrefix(f.Path, "/nar/") && f.Method == "GET" && f.Status == 200 && f.Bytes > 0 {
			n++
		}
	}
	return n
}

// fetched reports whether the server answered a GET of path with 200.
func fetched(t *testing.T, l *lab.Lab, path string) bool {
	t.Helper()
	fs, err := l.CacheFetches()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Path == path && f.Method == "GET" && f.Status == 200 {
			return true
		}
	}
	return false
}

// TestBuilderSSHNG checks that the operator's Nix builds on lab builders,
// one on the machine's Nix 2.8 and one on current Nix, through ssh-ng://
// stores (`nix-daemon --stdio` over the builder's sshd): the output is in
// the builder's store and not in the operator's, and the fleet file lists
// the builders, not as nodes.
func TestBuilderSSHNG(t *testing.T) {
	l := labtest.StartWith(t, lab.Options{Hosts: 1, Builders: 2, CurrentOn: "build02"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if n := len(l.Builders()); n != 2 || len(l.Nodes()) != 1 {
		t.Fatalf("%d builders, %d nodes; want 2 and 1", n, len(l.Nodes()))
	}
	for _, b := range l.Builders() {
		if !b.Builder || (b.Name == "build02") != (b.Root != "") {
			t.Errorf("builder %+v", b)
		}
		expr := fmt.Sprintf(`derivation { name = "lab-builder"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo %s-%d > $out"]; }`,
			b.Name, time.Now().UnixNano())
		out, err := exec.CommandContext(ctx, "nix-instantiate", "-E", expr).Output()
		if err != nil {
			t.Fatalf("nix-instantiate: %v", err)
		}
		drv := strings.TrimSpace(string(out))
		store := "ssh-ng://root@127.0.0.1"
		sshOpts := fmt.Sprintf("NIX_SSHOPTS=-F none -p %d -i %s/id_ed25519 -o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
			b.Port, l.Dir, l.Dir)
		for _, argv := range [][]string{
			{"nix", "--extra-experimental-features", "nix-command", "copy", "--derivation", "--to", store, drv},
			{"nix-store", "--store", store, "--realise", drv},
		} {
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = append(cmd.Environ(), sshOpts)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %s: %v: %s", b.Name, strings.Join(argv, " "), err, out)
			}
		}
		outPath, err := exec.CommandContext(ctx, "nix-store", "--query", "--outputs", drv).Output()
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimSpace(string(outPath))
		if got, err := l.Exec(ctx, b.Name, []string{"cat", p}, nil); err != nil || !strings.HasPrefix(string(got), b.Name+"-") {
			t.Errorf("%s: output %s on the builder: %q, %v", b.Name, p, got, err)
		}
		if err := exec.CommandContext(ctx, "nix-store", "--check-validity", p).Run(); err == nil {
			t.Errorf("%s: output %s is in the operator's store too", b.Name, p)
		}
	}
	checkFleetFile(t, l, nil)
}
