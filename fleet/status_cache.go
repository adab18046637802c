package fleet

import (
	"context"

	"nixdeck/nix"
)

// A fleet with a binary cache is only as fast as the hosts that use it: a
// host whose nix.conf lacks the cache, or does not trust its key, gets
// every path from the operator. So when the fleet file has a cache,
// reading a host's state also reads its Nix settings (one more command,
// run alongside the state's on the same connection, so no round trip
// more); without a cache nothing more is run.

// CacheConfigEvent says whether a host can substitute from the fleet's
// cache, read with its state: Status is nix.CacheOK,
// nix.CacheNotSubstituter or nix.CacheKeyNotTrusted; Err says why its
// settings could not be read (the host's state may still be there).
type CacheConfigEvent struct {
	EventBase
	Config nix.SubstConfig
	Status string
	Err    error
}

// fleetCache is the cache the hosts should substitute from, nil when the
// fleet file names none.
func (e *Engine) fleetCache() *Cache {
	if e.fleet == nil || e.fleet.Cache == nil || e.fleet.Cache.Substituter == "" {
		return nil
	}
	return e.fleet.Cache
}

// readCacheConfig starts reading h's Nix settings when the fleet has a
// cache; the function returned waits for it and reports it (a no-op
// without a cache).
func (e *Engine) readCacheConfig(ctx context.Context, h *HostRun) func() {
	c := e.fleetCache()
	if c == nil {
		return func() {}
	}
	done := make(chan CacheConfigEvent, 1)
	go func() {
		cfg, err := nix.ReadSubstituters(ctx, h.Runner)
		ev := CacheConfigEvent{EventBase: h.Base(), Config: cfg, Err: err}
		if err == nil {
			ev.Status = cfg.CacheStatus(c.Substituter, c.PublicKey)
		}
		done <- ev
	}()
	return func() { h.Emit(<-done) }
}
