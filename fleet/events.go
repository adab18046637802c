package fleet

import (
	"time"
)

// Event is one thing that happened during an operation. The console and
// the headless CLI both read an operation's Stream and switch on the
// concrete type. Every event names its operation; an event about one
// host names the host, and an operation-level event (OpStarted,
// OpFinished, the build's shared log, and the rollout's wave and halt
// events when they come) has Host() == "".
type Event interface {
	// Op is the id of the operation the event belongs to.
	Op() string
	// Host is the node name the event is about; "" for an event about the
	// operation as a whole.
	Host() string
	// At is when the event happened.
	At() time.Time
}

// EventBase is embedded in every event: the operation, the host ("" for
// operation-level events) and the time.
type EventBase struct {
	OpID     string
	HostName string
	Time     time.Time
}

// Op implements Event.
func (e EventBase) Op() string { return e.OpID }

// Host implements Event.
func (e EventBase) Host() string { return e.HostName }

// At implements Event.
func (e EventBase) At() time.Time { return e.Time }

// OpStarted is the first event of every operation.
type OpStarted struct {
	EventBase
	// Kind says what the operation does: "status", "diff", "trust", …
	Kind string
	// Hosts are the nodes the operation works on, in fleet order; each of
	// them gets a DoneEvent before OpFinished.
	Hosts []string
}

// OpFinished is the last event of every operation, after every host's
// DoneEvent. Err is set when the operation failed as a whole rather than
// host by host (Nix missing, a fleet that does not evaluate); failures of
// single hosts are in their DoneEvents.
type OpFinished struct {
	EventBase
	Err error
}
