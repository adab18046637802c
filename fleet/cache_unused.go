package fleet

import (
	"fmt"
	"strings"

	"nixdeck/nix"
)

// A deploy to a large fleet with a cache should say so before it starts
// when many hosts would still get every path from the operator: its
// uplink, not the cache, then carries each closure to each of them. The
// fleet file says which hosts substitute at all; whether a substituting
// host's Nix lists the cache and trusts its key only the host can say, so
// a deploy's diff reads that too (DiffOptions.CacheConfig) when the
// warning could apply: the fleet has a cache and more than
// CacheUnusedLimit hosts are deployed.

// CacheUnusedLimit is how many hosts may get every path from the
// operator while the fleet has a cache before a deploy warns.
const CacheUnusedLimit = 20

// CacheNoSubstitute is the reason of a host whose fleet file entry has
// substitute_on_destination off.
const CacheNoSubstitute = "substitute_on_destination off"

// CacheUnusedHost is a node that would get every path from the operator
// although the fleet has a cache, and why: CacheNoSubstitute,
// nix.CacheNotSubstituter or nix.CacheKeyNotTrusted.
type CacheUnusedHost struct {
	Node   *Node
	Reason string
}

// CacheCheckWanted reports whether a deploy of nodes should read the
// substituting hosts' Nix settings before its confirmation: only when
// the fleet has a cache, more than CacheUnusedLimit nodes are deployed
// and some of them substitute (the others need no reading).
func (f *Fleet) CacheCheckWanted(nodes []*Node) bool {
	if f == nil || f.Cache == nil || f.Cache.Substituter == "" || len(nodes) <= CacheUnusedLimit {
		return false
	}
	for _, n := range nodes {
		if n.SubstituteOnDestination {
			return true
		}
	}
	return false
}

// CacheUnused returns the nodes that would get every path from the
// operator although the fleet has a cache, with the reason: those not
// substituting and, among the others, those whose cache status (host →
// CacheConfigEvent.Status, as read; a host missing or "" was not read
// and is not counted) says their Nix lacks the cache or its key. Nil
// without a cache.
func (f *Fleet) CacheUnused(nodes []*Node, status map[string]string) []CacheUnusedHost {
	if f == nil || f.Cache == nil || f.Cache.Substituter == "" {
		return nil
	}
	var out []CacheUnusedHost
	for _, n := range nodes {
		switch s := status[n.Name]; {
		case !n.SubstituteOnDestination:
			out = append(out, CacheUnusedHost{Node: n, Reason: CacheNoSubstitute})
		case s != "" && s != nix.CacheOK:
			out = append(out, CacheUnusedHost{Node: n, Reason: s})
		}
	}
	return out
}

// cacheWarningNames is how many hosts a warning names per reason: enough
// to recognise them, few enough for one line over a thousand hosts.
const cacheWarningNames = 5

// CacheUnusedWarning is what a deploy says before its confirmation when
// more than CacheUnusedLimit of nodes would not use the fleet's cache
// (see CacheUnused): how many, and per reason how many and the first few
// names; "" otherwise. status is as CacheUnused takes it.
func (f *Fleet) CacheUnusedWarning(nodes []*Node, status map[string]string) string {
	unused := f.CacheUnused(nodes, status)
	if len(unused) <= CacheUnusedLimit {
		return ""
	}
	byReason := map[string][]string{}
	for _, u := range unused {
		byReason[u.Reason] = append(byReason[u.Reason], u.Node.Name)
	}
	var parts []string
	for _, r := range []string{CacheNoSubstitute, nix.CacheNotSubstituter, nix.CacheKeyNotTrusted} {
		names := byReason[r]
		if len(names) == 0 {
			continue
		}
		shown := names[:min(len(names), cacheWarningNames)]
		list := strings.Join(shown, ", ")
		if len(names) > len(shown) {
			list += fmt.Sprintf(" and %d more", len(names)-len(shown))
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s)", len(names), reasonText[r], list))
	}
	return fmt.Sprintf("the fleet has a binary cache (%s), but %d of %d hosts would get every path from this machine: %s; see nixdeck status",
		f.Cache.Substituter, len(unused), len(nodes), strings.Join(parts, "; "))
}

// reasonText says each reason of CacheUnusedHost after a count of hosts.
var reasonText = map[string]string{
	CacheNoSubstitute:       "with substitute_on_destination off",
	nix.CacheNotSubstituter: "whose Nix does not list it in substituters",
	nix.CacheKeyNotTrusted:  "whose Nix does not trust its key",
}
