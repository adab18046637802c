package fleet

import "time"

// Outcome is how a rollout ended for one host: what the final table,
// the history and the exit code are made of.
type Outcome string

// Outcomes of a host in a rollout.
const (
	// OutcomeDone: the host runs what was asked and passed its checks.
	OutcomeDone Outcome = "done"
	// OutcomeUnchanged: the host already ran the built system; one state
	// read, no lock, no copy, no activation.
	OutcomeUnchanged Outcome = "unchanged"
	// OutcomeFailed: a step failed (lock refused, copy, activation, health
	// checks); Cause says which and whether the host was changed.
	OutcomeFailed Outcome = "failed"
	// OutcomeRolledBack: the host is back on the generation it had when
	// the rollout started, by itself (magic rollback) or by on_failure.
	OutcomeRolledBack Outcome = "rolled back"
	// OutcomeUnknown: nixdeck stopped waiting (a second Abort) while the
	// host was activating or being checked; it completes or rolls itself
	// back on its own, and Cause says how to check.
	OutcomeUnknown Outcome = "unknown"
	// OutcomeSkipped: the host was never changed because the rollout
	// halted or was aborted before it started (or while it copied).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeUnreachable: no connection could be made; nothing was done.
	OutcomeUnreachable Outcome = "unreachable"
)

// RolloutStarted follows OpStarted in a rollout: what it will do, and the
// waves it plans (host names, canary wave first).
type RolloutStarted struct {
	EventBase
	// Kind is Plan.Kind: "deploy" or "rollback".
	Kind     string
	Action   string
	Profile  string
	Selector string
	Owner    string
	// Canary are the canary hosts, in fleet order; empty without a canary.
	Canary []string
	// Waves are the hosts of each wave in the order they will go.
	Waves [][]string
}

// WaveStarted says the hosts of one wave are being started (at most
// Policy.Parallel at once). Waves are numbered from 1; with a canary,
// wave 1 is the canary wave.
type WaveStarted struct {
	EventBase
	Wave   int
	Canary bool
	Hosts  []string
}

// WaveHealthy says the wave passed its gate: every host of it has ended,
// the soak is over, no canary failed and the failure budget holds (a
// wave may hold failures within max_failures). The next wave may start.
type WaveHealthy struct {
	EventBase
	Wave int
}

// RolloutPaused says Pause (Paused) or Resume took effect: while paused,
// no new host starts; the ones in flight go on.
type RolloutPaused struct {
	EventBase
	Paused bool
}

// RolloutHalted says the rollout will start no new host: a canary
// failed, or more than max_failures hosts did. on_failure runs next.
type RolloutHalted struct {
	EventBase
	Reason string
}

// AbortRequested says Abort was called: the first time no new host
// starts and the ones in flight finish; the second time (Second) nixdeck
// stops waiting for them.
type AbortRequested struct {
	EventBase
	Second bool
}

// HostOutcome is a host's result in a rollout, emitted once, right before
// its DoneEvent, when it can no longer change (a host that may still be
// rolled back by on_failure gets it at the end of the rollout).
type HostOutcome struct {
	EventBase
	Outcome Outcome
	// FromSystem and FromGen are the running system and the profile's
	// generation read at the start; ToSystem and ToGen where this rollout
	// took the host (for a rolled-back host: where it had been before it
	// went back to From). Generations are 0 when unknown.
	FromSystem, ToSystem string
	FromGen, ToGen       int
	// Cause says why a host did not end done; for done or unchanged it may
	// hold a remark ("reboot needed"). Short, one line.
	Cause string
	// LockBroken names the holder of a stale lock broken with BreakLock.
	LockBroken string
	// Duration is the time spent working on the host.
	Duration time.Duration
}
