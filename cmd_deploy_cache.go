package main

import (
	"iter"

	"nixdeck/fleet"
)

// teeDiffs prints a deploy's diff events as tee does, except the hosts'
// cache settings (fleet.CacheConfigEvent): read only for the warning
// before the confirmation (Fleet.CacheUnusedWarning), which says what
// matters in them.
func teeDiffs(p *printer, events iter.Seq[fleet.Event]) iter.Seq[fleet.Event] {
	return func(yield func(fleet.Event) bool) {
		for e := range events {
			if _, ok := e.(fleet.CacheConfigEvent); !ok {
				p.event(e)
			}
			if !yield(e) {
				return
			}
		}
	}
}

// cacheStatuses are the hosts' cache statuses a deploy's diff read, by
// host name, for Fleet.CacheUnused.
func cacheStatuses(results []fleet.DiffResult) map[string]string {
	out := map[string]string{}
	for _, r := range results {
		if r.Cache != "" {
			out[r.Node.Name] = r.Cache
		}
	}
	return out
}
