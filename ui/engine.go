package ui

import (
	"context"

	"nixdeck/fleet"
)

// Engine is what the console asks of the fleet engine: the operations of
// *fleet.Engine that it starts, each returning at once with the stream it
// reads. Tests give the console a fake with scripted streams; Open wraps
// the real one.
type Engine interface {
	// ReadStates reads the state of nodes (fleet.Engine.ReadStates).
	ReadStates(ctx context.Context, nodes []*fleet.Node) Events
	// Build builds the systems of nodes with gc roots in rootDir; for a
	// deployment (deploy) it also pushes them to the fleet's cache
	// (fleet.Engine.BuildToDeploy), a build only to look (drift) does not.
	Build(ctx context.Context, nodes []*fleet.Node, rootDir string, deploy bool) Events
	// Diff diffs each node's running system against its built one.
	Diff(ctx context.Context, nodes []*fleet.Node, opts fleet.DiffOptions) Events
	// DiffRollback diffs each node's running system against the
	// generation a rollback to `to` would take it to.
	DiffRollback(ctx context.Context, nodes []*fleet.Node, to int) Events
	// Rollout starts p.
	Rollout(ctx context.Context, p fleet.Plan) Rollout
	// Journal tails node's journal (of unit, "" for all), from its last
	// lines on, until ctx ends.
	Journal(ctx context.Context, node *fleet.Node, unit string, lines int) Events
}

// Events is an operation's stream as the console reads it: whatever
// waits, in one batch (fleet.Stream.NextBatch). It returns false once the
// operation has ended and everything was read, or when ctx is done.
type Events interface {
	NextBatch(ctx context.Context, limit int) ([]fleet.Event, bool)
}

// Rollout is a running rollout (*fleet.Rollout): its events and the
// operator's controls, which never block.
type Rollout interface {
	ID() string
	Events() Events
	Pause()
	Resume()
	Abort()
}

// fleetEngine is the Engine of a real *fleet.Engine.
type fleetEngine struct{ e *fleet.Engine }

// FleetEngine is the console's Engine on e.
func FleetEngine(e *fleet.Engine) Engine { return fleetEngine{e} }

func (f fleetEngine) ReadStates(ctx context.Context, nodes []*fleet.Node) Events {
	return f.e.ReadStates(ctx, nodes)
}

func (f fleetEngine) Build(ctx context.Context, nodes []*fleet.Node, rootDir string, deploy bool) Events {
	if deploy {
		return f.e.BuildToDeploy(ctx, nodes, rootDir)
	}
	return f.e.Build(ctx, nodes, rootDir)
}

func (f fleetEngine) Diff(ctx context.Context, nodes []*fleet.Node, opts fleet.DiffOptions) Events {
	return f.e.Diff(ctx, nodes, opts)
}

func (f fleetEngine) DiffRollback(ctx context.Context, nodes []*fleet.Node, to int) Events {
	return f.e.DiffRollback(ctx, nodes, to)
}

func (f fleetEngine) Journal(ctx context.Context, node *fleet.Node, unit string, lines int) Events {
	return f.e.Journal(ctx, node, unit, lines)
}

func (f fleetEngine) Rollout(ctx context.Context, p fleet.Plan) Rollout {
	return fleetRollout{f.e.Rollout(ctx, p)}
}

// fleetRollout is a *fleet.Rollout whose stream is an Events.
type fleetRollout struct{ *fleet.Rollout }

func (r fleetRollout) Events() Events { return r.Rollout.Events() }
