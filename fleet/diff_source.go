package fleet

import (
	"context"

	"nixdeck/nix"
)

// The diff before a deploy compares each host's running system with its
// new one. A new system built on a builder or on the target is not in
// this machine's store: its closure is read from the store that holds it,
// over nixdeck's connection there, with the same script and serve
// session that read a host's running system (nix.QueryClosure); --files
// reads its etc/ there too. Only the reboot hint needs the new system's
// boot files read here, so for those systems the diff says the hint is
// unknown rather than guess.

// splitBySource parts the built systems into those in this machine's
// store (node name → system) and the others (node → system).
func splitBySource(nodes []*Node, built map[string]string) (map[string]string, map[*Node]string) {
	here, elsewhere := map[string]string{}, map[*Node]string{}
	for _, n := range nodes {
		p, ok := built[n.Name]
		switch {
		case !ok:
		case where(n) == BuildLocal:
			here[n.Name] = p
		default:
			elsewhere[n] = p
		}
	}
	return here, elsewhere
}

// remoteClosure reads the closure of system from the store h's system is in.
func (o *op) remoteClosure(ctx context.Context, h *HostRun, system string) (*nix.Closure, error) {
	ctx, cancel := context.WithTimeout(ctx, hostDiffTimeout)
	defer cancel()
	src, _, err := o.source(ctx, h)
	if err != nil {
		return nil, err
	}
	return nix.QueryClosure(ctx, src, system)
}
