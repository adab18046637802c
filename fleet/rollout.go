package fleet

import (
	"context"
	"fmt"
	"time"

	"nixdeck/nix"
)

// Kinds of Plan: what a rollout does to each host. The kind prefixes the
// operation id and is the history's action for a rollback.
const (
	// PlanDeploy switches hosts to the systems built for them.
	PlanDeploy = "deploy"
	// PlanRollback takes hosts back to an earlier generation.
	PlanRollback = "rollback"
)

// DefaultProfile is the profile a Plan without one works on: NixOS's
// system profile. Locks, generations and history all name the profile so
// that app profiles can join later without reshaping the engine.
const DefaultProfile = "system"

// Plan is a rollout: what to do on which hosts and how.
type Plan struct {
	// Kind is PlanDeploy or PlanRollback.
	Kind string
	// Nodes are the selected hosts, in fleet order.
	Nodes []*Node
	// Systems maps a node's name to its built system (deploy); a deploy
	// node without one fails the plan. Nil for a rollback.
	Systems map[string]string
	// RollbackTo is the generation a rollback goes to; 0 means the one
	// before the profile's current generation, on each host.
	RollbackTo int
	// Action is switch, boot, test or dry-activate (deploy); "" takes
	// Policy.Action. A rollback always switches.
	Action nix.Action
	// Profile is the profile worked on; "" means DefaultProfile, the only
	// one that can be activated yet.
	Profile string
	// Canary are the hosts of Nodes that go first, all at once (at most
	// Policy.Parallel), and must stay healthy through the soak before any
	// other host is touched. Empty: every host forms one wave.
	Canary []*Node
	// Policy is the fleet file's deploy section with the command line's
	// overrides: parallel, batch, max_failures, on_failure, soak, magic
	// rollback, timeouts and health checks.
	Policy Deploy
	// BreakLock breaks a host's lock whose operation is over or older than
	// Policy.ActivationTimeout (the holder is in HostOutcome.LockBroken).
	BreakLock bool
	// Selector is the selection as typed, for the history.
	Selector string
	// CacheRequired fails a host whose cache failed it (its Nix refused
	// the cache's paths, or could not reach it) while it substitutes
	// (substitute_on_destination), naming Nix's reason, instead of
	// sending it those paths from this machine.
	CacheRequired bool
	// Owner is "user@machine", written into each host's lock; "" means
	// nix.LocalOwner().
	Owner string
	// Recorder, when set, sees every event of the rollout before its
	// Stream does: the history and the per-host logs.
	Recorder Recorder
}

// Recorder keeps what a rollout did. Record is called with every event,
// one at a time, in the order the stream gets them, from whichever
// goroutine emitted it; it should not block for long (the emitter and
// the stream's reader wait for it).
type Recorder interface {
	Record(e Event)
}

// Rollout is a running Plan: its id, its events, and the operator's
// controls. The controls never block and may be called from any
// goroutine, a console's key handler included; what they do shows in the
// stream as RolloutPaused and AbortRequested.
type Rollout struct {
	id  string
	s   *Stream
	ctl *control
}

// ID is the rollout's operation id, e.g. "deploy-20240701T100000-3f2a9c":
// it names the hosts' run directories (/run/nixdeck/<id>), their locks'
// holder and the history records.
func (r *Rollout) ID() string { return r.id }

// Events is the rollout's stream: OpStarted, RolloutStarted, the waves
// and the hosts' events, a HostOutcome and a DoneEvent for every node,
// then OpFinished (with an error when the plan itself was refused).
func (r *Rollout) Events() *Stream { return r.s }

// Pause stops hosts from starting; the ones in flight go on.
func (r *Rollout) Pause() { r.ctl.pause(true) }

// Resume lets hosts start again after Pause.
func (r *Rollout) Resume() { r.ctl.pause(false) }

// Abort starts no new host (they end skipped) and lets the hosts in
// flight finish, rolling back by themselves if they must. A second Abort
// stops waiting for them: their contexts are cancelled and a host caught
// activating ends "unknown", with how to check on it.
func (r *Rollout) Abort() { r.ctl.abort() }

// Rollout starts p and returns its handle at once. Every host is
// touched only through its own connection and its lock; the build (for
// a deploy) is done by the caller before, so a failed build touches
// nothing. The rollout ends when every host has its HostOutcome, or when
// ctx ends (as a second Abort would) or the Engine is closed.
func (e *Engine) Rollout(ctx context.Context, p Plan) *Rollout {
	return e.rollout(ctx, p, nixSteps{}, time.After)
}

// rollout is Rollout with the host-side steps and the clock given, so
// that the scheduling can be tested with fakes.
func (e *Engine) rollout(ctx context.Context, p Plan, steps hostSteps, after func(time.Duration) <-chan time.Time) *Rollout {
	ctl := newControl()
	var tap func(Event)
	if p.Recorder != nil {
		tap = p.Recorder.Record
	}
	kind := p.Kind
	if kind != PlanDeploy && kind != PlanRollback {
		kind = "rollout"
	}
	o := e.startOp(ctx, kind, p.Nodes, tap, func(ctx context.Context, o *op) error {
		r, err := newRun(ctx, o, p, steps, ctl, after)
		if err != nil {
			for _, n := range p.Nodes {
				o.host(n).finish(hostResult{outcome: OutcomeSkipped, cause: "not started: the plan was refused",
					err: &HostError{Host: n.Name, Err: fmt.Errorf("not started: %w", err)}})
			}
			return err
		}
		return r.run()
	})
	return &Rollout{id: o.id, s: o.s, ctl: ctl}
}
