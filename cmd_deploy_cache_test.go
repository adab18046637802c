package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// A deploy's diff stream carries the hosts' cache settings for the
// warning: they reach its statuses, not the output (no JSON object of an
// unnamed type).
func TestDeployDiffCacheStatuses(t *testing.T) {
	nodes := []*fleet.Node{{Name: "web01"}, {Name: "web02"}}
	b := func(h string) fleet.EventBase { return fleet.EventBase{OpID: "diff-1", HostName: h} }
	events := []fleet.Event{
		fleet.OpStarted{EventBase: b(""), Kind: "diff", Hosts: []string{"web01", "web02"}},
		fleet.CacheConfigEvent{EventBase: b("web01"), Status: nix.CacheKeyNotTrusted},
		fleet.DoneEvent{EventBase: b("web01")},
		fleet.CacheConfigEvent{EventBase: b("web02")}, // could not be read
		fleet.DoneEvent{EventBase: b("web02")},
		fleet.OpFinished{EventBase: b("")},
	}
	var out bytes.Buffer
	p := newPrinter(&out, true)
	res, err := fleet.CollectDiffs(nodes, teeDiffs(p, slices.Values(events)))
	if err != nil {
		t.Fatal(err)
	}
	got := cacheStatuses(res)
	if len(got) != 1 || got["web01"] != nix.CacheKeyNotTrusted {
		t.Errorf("statuses %v", got)
	}
	if strings.Contains(out.String(), "CacheConfig") || strings.Count(out.String(), "\n") != 4 {
		t.Errorf("printed:\n%s", out.String())
	}
}
