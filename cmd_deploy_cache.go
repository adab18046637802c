package main

import (
	"fmt"

	"nixdeck/fleet"
)

// cacheUnusedLimit is how many hosts may get every path from this
// machine while the fleet has a cache before a deploy says so: past it,
// the operator's uplink, not the cache, carries the closure to each.
const cacheUnusedLimit = 20

// cacheUnusedWarning is the warning a deploy prints before its
// confirmation when more than cacheUnusedLimit of nodes would not use the
// fleet's cache; "" otherwise. status are hosts' cache statuses already
// read (nil: only the fleet file's substitute_on_destination is known).
func cacheUnusedWarning(f *fleet.Fleet, nodes []*fleet.Node, status map[string]string) string {
	unused := f.CacheUnused(nodes, status)
	if len(unused) <= cacheUnusedLimit {
		return ""
	}
	return fmt.Sprintf("warning: the fleet has a binary cache (%s), but %d of %d hosts would get every path from this machine "+
		"(substitute_on_destination off, or their Nix lacks the cache or its key: see nixdeck status)",
		f.Cache.Substituter, len(unused), len(nodes))
}
