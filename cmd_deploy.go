package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// deployCmd is `nixdeck deploy`: build the selected nodes' systems once,
// show what would change on each host, ask, then roll out (fleet's
// Engine.Rollout): canary first, waves, health checks, magic rollback.
type deployCmd struct {
	On string `placeholder:"SEL" help:"Hosts to deploy: names, @tags, globs, !exclusions, comma-separated (default all)."`
	deployFlags
	BreakLock bool `name:"break-lock" help:"Break a host's lock left by an operation that is over (recorded in the history)."`
	// CacheRequired is Plan.CacheRequired.
	CacheRequired bool `name:"cache-required" help:"Fail a substituting host whose binary cache failed it (key not trusted, cache down) instead of copying from here."`
	rolloutOpts
}

// Run implements `nixdeck deploy`.
func (c *deployCmd) Run(ctx context.Context, g *globals, intr *interrupt) error {
	return c.run(ctx, g, stdSession(intr, c.terminal))
}

func (c *deployCmd) run(ctx context.Context, g *globals, s session) error {
	f, nodes, err := selectHosts(g, c.On, "deploy", s.errOut)
	if err != nil {
		return err
	}
	policy, canary, err := c.policy(f, nodes)
	if err != nil {
		return exitCode(2, fmt.Errorf("deploy: %w", err))
	}
	r, err := c.begin(f, s, "deploy")
	if err != nil {
		return err
	}
	defer r.close()
	eng, p := r.eng, r.p

	rootDir, err := os.MkdirTemp("", "nixdeck-deploy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(rootDir) // the systems stay alive until the rollout ends
	systems, err := build(ctx, s, eng, p, nodes, rootDir)
	if err != nil {
		return err
	}
	// What each host would get, from the closure diff: no second build,
	// and the hosts' connections are the ones the rollout uses next.
	// With a cache and many hosts, it also reads which hosts' Nix would
	// take from the cache, for the warning below.
	diffs := eng.Diff(ctx, nodes, fleet.DiffOptions{Systems: systems, CacheConfig: f.CacheCheckWanted(nodes)})
	results, err := fleet.CollectDiffs(nodes, teeDiffs(p, diffs.All()))
	if err != nil {
		return err
	}
	plan := fleet.Plan{Kind: fleet.PlanDeploy, Nodes: nodes, Systems: systems, Action: nix.Action(policy.Action),
		Canary: canary, Policy: policy, BreakLock: c.BreakLock, CacheRequired: c.CacheRequired, Selector: c.On, Owner: operator(), Recorder: r.hist}
	p.note(planText(plan))
	if w := f.CacheUnusedWarning(nodes, cacheStatuses(results)); w != "" {
		p.note("warning: " + w)
	}
	if err := s.confirm(ctx, c.Yes, fmt.Sprintf("Deploy to %s (%s)?", plural(len(nodes), "host"), policy.Action)); err != nil {
		return err
	}
	if ctx.Err() != nil { // Ctrl-C at the prompt
		return ctx.Err()
	}
	ro := eng.Rollout(ctx, plan)
	return follow(s, ro, ro.Events(), p, r.hist.Failures)
}

// build builds the nodes' systems once, printing the build's output, and
// returns them by node name. Any node left without a system stops the
// deploy before a host is touched.
func build(ctx context.Context, s session, eng *fleet.Engine, p *printer, nodes []*fleet.Node, rootDir string) (map[string]string, error) {
	res, err := fleet.CollectDiffs(nodes, p.tee(eng.BuildToDeploy(ctx, nodes, rootDir).All()))
	if err != nil {
		return nil, fmt.Errorf("build: %w; no host was touched", err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	systems := map[string]string{}
	var failed []string
	for _, r := range res {
		if r.Err != nil || r.New == "" {
			failed = append(failed, r.Node.Name)
			continue
		}
		systems[r.Node.Name] = r.New
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("build failed for %s; no host was touched", termtext.Visible(strings.Join(failed, ", ")))
	}
	return systems, nil
}

// planText describes the rollout about to start, for the operator to
// check before saying yes.
func planText(p fleet.Plan) string {
	pol := p.Policy
	parts := []string{fmt.Sprintf("plan: %s on %s", p.Action, plural(len(p.Nodes), "host"))}
	if len(p.Canary) > 0 {
		names := make([]string, len(p.Canary))
		for i, n := range p.Canary {
			names[i] = n.Name
		}
		parts = append(parts, fmt.Sprintf("canary %s, then waves of %s", strings.Join(names, ", "), pol.Batch))
	}
	halt := fmt.Sprintf("halt after %s", plural(pol.MaxFailures+1, "failed host"))
	if pol.OnFailure != fleet.OnFailureHalt {
		halt += ", then " + pol.OnFailure
	}
	parts = append(parts, fmt.Sprintf("%d at once", pol.Parallel), halt)
	if len(p.Canary) > 0 || len(pol.Health) > 0 {
		parts = append(parts, "soak "+pol.Soak.String())
	}
	if pol.MagicRollback && slices.Contains([]nix.Action{nix.Switch, nix.Test}, p.Action) {
		parts = append(parts, fmt.Sprintf("magic rollback unless confirmed within %s", pol.ConfirmTimeout))
	}
	if p.BreakLock {
		parts = append(parts, "breaking stale locks")
	}
	if p.CacheRequired {
		parts = append(parts, "binary cache required")
	}
	return strings.Join(parts, "; ")
}

// operator names who runs the operation, as locks and history show it:
// user@machine, the user as the system knows it (else $USER, else the uid).
func operator() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = fmt.Sprint(os.Getuid())
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return name + "@" + host
}

// errNotConfirmed is the operator saying no: nothing was touched.
var errNotConfirmed = errors.New("not confirmed; no host was touched")
