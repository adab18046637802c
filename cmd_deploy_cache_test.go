package main

import (
	"fmt"
	"strings"
	"testing"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// A deploy warns when more than 20 hosts would get everything from this
// machine while the fleet has a cache: hosts not substituting, and hosts
// whose status said their Nix lacks the cache or its key.
func TestCacheUnusedWarning(t *testing.T) {
	f := &fleet.Fleet{Cache: &fleet.Cache{Substituter: "http://cache.example.com"}}
	var nodes []*fleet.Node
	for i := range 30 {
		n := &fleet.Node{Name: fmt.Sprintf("web%02d", i)}
		n.SubstituteOnDestination = i >= 20 // 20 do not
		nodes = append(nodes, n)
	}
	if w := cacheUnusedWarning(f, nodes, nil); w != "" {
		t.Errorf("20 hosts without the cache: %q, want no warning", w)
	}
	status := map[string]string{"web25": nix.CacheKeyNotTrusted, "web26": nix.CacheOK, "web27": ""}
	w := cacheUnusedWarning(f, nodes, status)
	if !strings.Contains(w, "21 of 30 hosts would get every path from this machine") || !strings.Contains(w, "http://cache.example.com") {
		t.Errorf("21 hosts without the cache: %q", w)
	}
	nodes[20].SubstituteOnDestination = false
	if w := cacheUnusedWarning(&fleet.Fleet{}, nodes, nil); w != "" {
		t.Errorf("no cache: %q, want no warning", w)
	}
}
