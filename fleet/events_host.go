package fleet

import (
	"errors"
	"time"

	"nixdeck/nix"
)

// Phase is the stage an operation is at on one host.
type Phase string

// Phases of an operation on a host, in the order they normally happen.
const (
	PhaseQueued     Phase = "queued"
	PhaseConnecting Phase = "connecting"
	PhaseReading    Phase = "reading state"
	PhaseBuilding   Phase = "building"
	PhaseLocking    Phase = "locking"
	PhaseCopying    Phase = "copying"
	// PhaseRooting: the new closure is made a GC root on the host, so a
	// garbage collection there cannot take it before the profile holds it.
	PhaseRooting Phase = "rooting"
	// PhaseProfile: the detached activation starts and sets the system
	// profile (switch, boot); PhaseActivating follows once
	// switch-to-configuration runs.
	PhaseProfile    Phase = "setting profile"
	PhaseActivating Phase = "activating"
	// PhaseConfirming: magic rollback; a new connection confirms the host
	// is still reachable, or it rolls itself back.
	PhaseConfirming Phase = "confirming"
	// PhaseHealth: the health checks run until they pass or time out.
	PhaseHealth Phase = "health checks"
	// PhaseSoaking: the host passed its checks and waits out the wave's
	// soak, after which they run once more.
	PhaseSoaking  Phase = "soaking"
	PhaseRollback Phase = "rolling back"
	PhaseDone     Phase = "done"
	PhaseFailed   Phase = "failed"
	// PhaseInterrupted ends a host whose work was cut short by the
	// operation's cancellation (Ctrl-C): it did not fail, it was stopped.
	PhaseInterrupted Phase = "interrupted"
)

// PhaseEvent says a host entered a phase.
type PhaseEvent struct {
	EventBase
	Phase Phase
}

// LogEvent is one line of output from a host or from a command run for
// it; with no host, a line of the operation's shared work (the build).
// Log lines are never dropped.
type LogEvent struct {
	EventBase
	// Source says where the line came from: "build", "copy", "activate", …
	Source string
	Line   string
}

// CopyEvent reports closure copy progress (paths and bytes done/total).
// Progress is state: a reader that is behind gets the latest value for a
// host, not every step (see Stream).
type CopyEvent struct {
	EventBase
	nix.CopyProgress
}

// stateKind marks CopyEvent as state that a newer one supersedes.
func (CopyEvent) stateKind() string { return "copy progress" }

// StateEvent carries a host's state as just read.
type StateEvent struct {
	EventBase
	State *nix.HostState
}

// ActivationEvent carries an activation's classified result.
type ActivationEvent struct {
	EventBase
	Action nix.Action
	Result nix.ActivateResult
}

// CommandStarted says a command is being run for a host (on it, or
// locally when Local), so that the console can show what a host is
// waiting on. With no host, the command serves the whole operation.
type CommandStarted struct {
	EventBase
	Argv       []string
	Privileged bool
	Local      bool
	// Builder names the builder the command runs on ("builder:big"), ""
	// when it runs on the event's host or here.
	Builder string
}

// CommandEvent reports a command that ended: the exact command line, how
// it ended and how long it took, as lazygit's command log shows them.
type CommandEvent struct {
	EventBase
	Argv       []string
	Privileged bool
	Local      bool
	// Builder is as in CommandStarted.
	Builder string
	// Exit is the exit status: 0 on success, the status of a failed
	// command, -1 when the command reported none (killed by a signal, the
	// connection lost, not started); Err says why.
	Exit     int
	Duration time.Duration
	Err      error
}

// DoneEvent is the last event of a host in an operation: Err is nil when
// the host's work succeeded, else the cause, a *HostError naming the
// host. An interrupted host's Err matches ErrInterrupted.
type DoneEvent struct {
	EventBase
	Err error
}

// Interrupted tells a host stopped by the operation's cancellation from
// one that failed.
func (e DoneEvent) Interrupted() bool { return errors.Is(e.Err, ErrInterrupted) }
