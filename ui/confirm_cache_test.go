package ui

import (
	"fmt"
	"strings"
	"testing"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// A deploy of more than 20 hosts of a fleet with a cache reads the
// hosts' cache settings with its diff, and the confirmation warns when
// more than 20 would get every path from this machine: those not
// substituting and those whose Nix lacks the cache or its key, counted
// per reason, naming a few.
func TestConfirmWarnsOfUnusedCache(t *testing.T) {
	f := testFleet()
	f.Cache = &fleet.Cache{Substituter: "https://cache.example.com"}
	f.Nodes = nil
	for i := range 24 {
		n := &fleet.Node{Name: fmt.Sprintf("web%02d", i), Host: fmt.Sprintf("10.0.1.%d", i)}
		n.SubstituteOnDestination = i >= 18 // 18 do not
		f.Nodes = append(f.Nodes, n)
	}
	statuses := map[string]string{"web18": nix.CacheKeyNotTrusted, "web19": nix.CacheNotSubstituter,
		"web20": nix.CacheKeyNotTrusted, "web21": nix.CacheOK}
	d := start(t, f, func(e *fakeEngine, c *Config) {
		for _, n := range f.Nodes {
			e.states[n.Name] = state(n.Name, 2, 2)
			e.built[n.Name] = sys(n.Name, "r3")
		}
		e.cache = statuses
	})
	d.resize(200, 60)
	d.press("a", "s")
	calls := d.eng.called()
	if got := calls[len(calls)-1]; !strings.HasPrefix(got, "Diff(built)+cache ") {
		t.Fatalf("the diff was %q, want it to read the hosts' cache settings", got)
	}
	// (the warning wraps at the dialog's width)
	d.shows("Switch 24 hosts?", "warning: the fleet has a binary cache (https://cache.example.com), but 21 of 24 hosts",
		"18 with substitute_on_destination off (web00, web01", "web04 and 13 more)",
		"1 whose Nix does not list it in substituters (web19)", "trust its key (web18, web20)")
	d.press("n")

	// One host fewer not using the cache: no warning.
	statuses["web20"] = nix.CacheOK
	d.press("s")
	d.shows("Switch 24 hosts?")
	d.hides("warning:")
}
