package fleet_test

import (
	"context"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
)

// TestDiffReadsCacheConfigOnLab runs a deploy's diff with CacheConfig on
// a lab with a cache, one host not trusting its key: each host's own Nix
// says whether it would take from the cache, and the untrusting one
// counts among the hosts that would get everything from the operator.
func TestDiffReadsCacheConfigOnLab(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartWith(t, lab.Options{Hosts: 2, Cache: true})
	f, nodes := loadAll(t, l.FleetPath)
	untrusting := nodes[1].Name
	if err := l.SetCacheTrust(untrusting, false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	eng := fleet.Open(f, fleet.Options{})
	defer eng.Close()
	res, err := fleet.CollectDiffs(nodes, eng.Diff(ctx, nodes, fleet.DiffOptions{CacheConfig: true}).All())
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, r := range res {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Node.Name, r.Err)
		}
		want := nix.CacheOK
		if r.Node.Name == untrusting {
			want = nix.CacheKeyNotTrusted
		}
		if r.Cache != want {
			t.Errorf("%s: cache %q, want %q", r.Node.Name, r.Cache, want)
		}
		status[r.Node.Name] = r.Cache
	}
	unused := f.CacheUnused(nodes, status)
	if len(unused) != 1 || unused[0].Node.Name != untrusting || unused[0].Reason != nix.CacheKeyNotTrusted {
		t.Errorf("hosts not using the cache: %+v", unused)
	}
}
