package fleet

import (
	"context"
	"fmt"

	"nixdeck/nix"
)

// DiffRollback diffs, on each of nodes, the running system against the
// generation a rollback to generation to would take it to (0: the one
// before the profile's current, as Plan.RollbackTo says): what the
// console's generations screen shows as the cursor moves, and what its
// confirmation of a rollback summarises. Nothing is built; both closures
// are read on the host, and hosts with the same systems share the reads.
// Each host reports a DiffEvent, then its DoneEvent; a host without that
// generation ends with nix.RollbackTarget's error.
//
// The reboot hint compares the two systems' kernels and initrds, as a
// closure diff without the host's boot spec does (NewHostDiff).
func (e *Engine) DiffRollback(ctx context.Context, nodes []*Node, to int) *Stream {
	cache := &nix.ClosureCache{}
	return e.RunHosts(ctx, "diff", nodes, func(ctx context.Context, h *HostRun) error {
		ctx, cancel := context.WithTimeout(ctx, hostDiffTimeout)
		defer cancel()
		h.Phase(PhaseReading)
		st, err := nix.QueryHostState(ctx, h.Runner)
		if err != nil {
			return err
		}
		if st.Current == "" {
			return fmt.Errorf("%s is missing or does not lead to a store object", nix.CurrentSystemLink)
		}
		g, err := nix.RollbackTarget(st, to)
		if err != nil {
			return err
		}
		cur, err := cache.Get(ctx, h.Runner, st.Current)
		if err != nil {
			return err
		}
		target := cur
		if g.Path != st.Current {
			if target, err = cache.Get(ctx, h.Runner, g.Path); err != nil {
				return err
			}
		}
		h.Emit(DiffEvent{EventBase: h.Base(), Diff: NewHostDiff(h.Node.Name, cur, target)})
		return nil
	})
}
