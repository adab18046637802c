package main

import (
	"context"
	"fmt"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// rollbackCmd is `nixdeck rollback`: every selected host back to a
// generation it has, all at once, each protected by magic rollback as a
// switch is (a host that loses SSH on the old generation comes back).
type rollbackCmd struct {
	On string `required:"" placeholder:"SEL" help:"Hosts to roll back: names, @tags, globs, !exclusions, comma-separated."`
	To int    `placeholder:"N" help:"Generation to go back to (default: the one before the current one, on each host)."`
	rolloutOpts
}

// Run implements `nixdeck rollback`.
func (c *rollbackCmd) Run(ctx context.Context, g *globals, intr *interrupt) error {
	return c.run(ctx, g, stdSession(intr, c.terminal))
}

func (c *rollbackCmd) run(ctx context.Context, g *globals, s session) error {
	if c.To < 0 {
		return exitCode(2, fmt.Errorf("rollback: --to %d: want a generation number", c.To))
	}
	f, nodes, err := selectHosts(g, c.On, "rollback", s.errOut)
	if err != nil {
		return err
	}
	r, err := c.begin(f, s, "rollback")
	if err != nil {
		return err
	}
	defer r.close()
	eng, p := r.eng, r.p
	// What each host would go back to, as its generations say now; the
	// rollout reads them again under the host's lock.
	for _, st := range fleet.CollectStates(nodes, p.tee(eng.ReadStates(ctx, nodes).All())) {
		if st.Err == nil {
			p.hostNote(st.Node.Name, rollbackTarget(st.State, c.To))
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	plan := fleet.Plan{Kind: fleet.PlanRollback, Nodes: nodes, RollbackTo: c.To, Action: nix.Switch,
		Policy: f.Deploy, Selector: c.On, Owner: operator(), Recorder: r.hist}
	if err := s.confirm(ctx, c.Yes, fmt.Sprintf("Roll back %s?", plural(len(nodes), "host"))); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	ro := eng.Rollout(ctx, plan)
	return follow(s, ro, ro.Events(), p, r.hist.Failures)
}

// rollbackTarget says where a host would go: "generation 42 → 41
// (nixos-system-web01-24.05)", or why it cannot.
func rollbackTarget(st *nix.HostState, to int) string {
	g, err := nix.RollbackTarget(st, to)
	if err != nil {
		return "cannot roll back: " + err.Error()
	}
	return fmt.Sprintf("generation %s → %d (%s)", genNumber(st.ProfileGeneration), g.Number, storeName(g.Path))
}
