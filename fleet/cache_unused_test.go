package fleet

import (
	"fmt"
	"strings"
	"testing"

	"nixdeck/nix"
)

// A deploy warns when more than 20 hosts would get everything from this
// machine while the fleet has a cache: hosts not substituting, and hosts
// whose own Nix lacks the cache or its key, counted per reason with the
// first few names, never a line per host.
func TestCacheUnusedWarning(t *testing.T) {
	f := &Fleet{Cache: &Cache{Substituter: "http://cache.example.com"}}
	var ns []*Node
	for i := range 40 {
		n := &Node{Name: fmt.Sprintf("web%02d", i)}
		n.SubstituteOnDestination = i >= 12 // 12 do not
		ns = append(ns, n)
	}
	if !f.CacheCheckWanted(ns) || f.CacheCheckWanted(ns[:20]) || (&Fleet{}).CacheCheckWanted(ns) {
		t.Error("the hosts' settings are read for more than 20 hosts of a fleet with a cache, and only then")
	}
	status := map[string]string{}
	for i := 12; i < 20; i++ {
		status[ns[i].Name] = nix.CacheNotSubstituter
	}
	status["web20"] = nix.CacheOK
	status["web21"] = "" // could not be read: not counted
	if w := f.CacheUnusedWarning(ns, status); w != "" {
		t.Errorf("20 hosts without the cache: %q, want no warning", w)
	}
	status["web22"] = nix.CacheKeyNotTrusted
	w := f.CacheUnusedWarning(ns, status)
	want := "the fleet has a binary cache (http://cache.example.com), but 21 of 40 hosts would get every path from this machine: " +
		"12 with substitute_on_destination off (web00, web01, web02, web03, web04 and 7 more); " +
		"8 whose Nix does not list it in substituters (web12, web13, web14, web15, web16 and 3 more); " +
		"1 whose Nix does not trust its key (web22); see nixdeck status"
	if w != want {
		t.Errorf("warning\n%s\nwant\n%s", w, want)
	}
	if w := (&Fleet{}).CacheUnusedWarning(ns, status); w != "" {
		t.Errorf("no cache: %q, want no warning", w)
	}
	all := f.CacheUnused(ns, status)
	if len(all) != 21 || all[20].Node.Name != "web22" || all[20].Reason != nix.CacheKeyNotTrusted || all[0].Reason != CacheNoSubstitute {
		t.Errorf("unused %+v", all)
	}
	if strings.Count(w, "\n") != 0 {
		t.Error("the warning is one line")
	}
}
