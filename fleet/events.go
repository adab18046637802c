package fleet

import (
	"errors"
	"time"

	"nixdeck/nix"
)

// Event is one thing that happened on one host during an operation. The
// console and the headless CLI both read a <-chan Event and switch on the
// concrete type; every event carries the host's name and a time.
type Event interface {
	// Host is the node name the event is about.
	Host() string
	// At is when the event happened.
	At() time.Time
}

// HostEvent is embedded in every event: the node name and the time.
type HostEvent struct {
	HostName string
	Time     time.Time
}

// Host implements Event.
func (e HostEvent) Host() string { return e.HostName }

// At implements Event.
func (e HostEvent) At() time.Time { return e.Time }

// Phase is the stage an operation is at on one host.
type Phase string

// Phases of an operation on a host, in the order they normally happen.
const (
	PhaseQueued     Phase = "queued"
	PhaseConnecting Phase = "connecting"
	PhaseReading    Phase = "reading state"
	PhaseBuilding   Phase = "building"
	PhaseCopying    Phase = "copying"
	PhaseActivating Phase = "activating"
	PhaseRollback   Phase = "rolling back"
	PhaseDone       Phase = "done"
	PhaseFailed     Phase = "failed"
	// PhaseInterrupted ends a host whose work was cut short by the
	// operation's cancellation (Ctrl-C): it did not fail, it was stopped.
	PhaseInterrupted Phase = "interrupted"
)

// PhaseEvent says a host entered a phase.
type PhaseEvent struct {
	HostEvent
	Phase Phase
}

// LogEvent is one line of output from a host or from a command run for it.
type LogEvent struct {
	HostEvent
	// Source says where the line came from: "build", "copy", "activate", …
	Source string
	Line   string
}

// CopyEvent reports closure copy progress (paths and bytes done/total).
type CopyEvent struct {
	HostEvent
	nix.CopyProgress
}

// StateEvent carries a host's state as just read.
type StateEvent struct {
	HostEvent
	State *nix.HostState
}

// ActivationEvent carries an activation's classified result.
type ActivationEvent struct {
	HostEvent
	Action nix.Action
	Result nix.ActivateResult
}

// DoneEvent is the last event of a host in an operation: Err is nil when
// the host's work succeeded, else the cause (naming the host). An
// interrupted host's Err matches ErrInterrupted.
type DoneEvent struct {
	HostEvent
	Err error
}

// Interrupted tells a host stopped by the operation's cancellation from
// one that failed.
func (e DoneEvent) Interrupted() bool { return errors.Is(e.Err, ErrInterrupted) }
