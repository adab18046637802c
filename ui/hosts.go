package ui

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/internal/termtext"
	"nixdeck/nix"
)

// hostRow is what the console knows of one host: its last state read,
// the system last built for it, where a rollout has it, and how its last
// operation ended. The fleet table is drawn from these.
type hostRow struct {
	node *fleet.Node
	// tags and addr are the node's tags and address as the table shows
	// them, made once: the fleet file does not change under the console.
	tags, addr string

	state   *nix.HostState
	readErr error // why the last state read failed; nil after a good one
	reading bool

	built    string // the system the last build made for it; "" if none
	buildErr error
	building bool

	// phase is the host's phase in the running rollout; "" outside one.
	phase       fleet.Phase
	rollingBack bool // the running rollout is a rollback

	// last is how the host's last rollout ended (from the history at
	// start, then this session's); fresh while the state column should
	// say it (until R).
	last  *outcome
	fresh bool

	selected bool
}

// outcome is a host's result in a rollout, as the table shows it.
type outcome struct {
	word  string // fleet.Outcome: done, failed, rolled back, …
	cause string
	at    time.Time
}

func newHostRow(n *fleet.Node) *hostRow {
	addr := n.Host
	if n.Port != 0 {
		addr = fmt.Sprintf("%s:%d", n.Host, n.Port)
	}
	return &hostRow{node: n, tags: termtext.Visible(strings.Join(n.Tags, ",")), addr: termtext.Visible(addr)}
}

// busy reports whether something is being done to the host right now,
// which the row shows with a spinner.
func (r *hostRow) busy() bool {
	return r.reading || r.building || r.inFlight()
}

// inFlight reports whether the running rollout is working on the host
// (queued hosts wait; they have not been touched).
func (r *hostRow) inFlight() bool {
	switch r.phase {
	case "", fleet.PhaseQueued, fleet.PhaseDone, fleet.PhaseFailed, fleet.PhaseInterrupted:
		return false
	}
	return true
}

// stateWord is the state column: what the host is doing or how it is,
// most pressing first. Host text in it (a lock holder, an error) is
// made visible and kept on one line.
func (r *hostRow) stateWord() string {
	switch {
	case r.reading:
		return "refreshing"
	case r.phase == fleet.PhaseQueued:
		return "queued"
	case r.inFlight() && r.rollingBack:
		return "rolling back: " + string(r.phase)
	case r.inFlight():
		return "deploying: " + string(r.phase)
	case r.readErr != nil:
		return "unreachable: " + cause(r.node.Name, r.readErr)
	}
	if s := r.state; s != nil {
		switch l := s.NixdeckLock; {
		case l.Held && l.Holder != "":
			return "locked by " + termtext.Visible(l.Holder)
		case l.Held:
			return "locked"
		case s.SwitchLock.Held:
			return "locked (switching)"
		}
	}
	if r.fresh && r.last != nil {
		return r.last.word
	}
	if r.state != nil {
		return "up"
	}
	return "unknown"
}

// generation is the generation column: the profile's generation number
// and the running system's label.
func (r *hostRow) generation() string {
	if r.state == nil {
		return ""
	}
	g := "-"
	if r.state.ProfileGeneration > 0 {
		g = fmt.Sprint(r.state.ProfileGeneration)
	}
	return g + " " + systemLabel(r.node.Name, r.state.Current, r.state.Version)
}

// drift is the drift column: whether the last build differs from what
// runs ("drift"), not ("no"), or cannot be said: "build" while it is
// built, "error" when the build failed (the details say why), "?".
func (r *hostRow) drift() string {
	switch {
	case r.building:
		return "build"
	case r.buildErr != nil:
		return "error"
	case r.built == "" || r.state == nil:
		return "?"
	case r.built != r.state.Current:
		return "drift"
	}
	return "no"
}

// reboot is the reboot column.
func (r *hostRow) reboot() string {
	switch {
	case r.state == nil:
		return "?"
	case r.state.RebootNeeded:
		return "yes"
	}
	return "no"
}

// lastWhen is the last-outcome column: the outcome and how long ago.
func (r *hostRow) lastWhen(now time.Time) string {
	if r.last == nil {
		return ""
	}
	return r.last.word + " " + ago(now.Sub(r.last.at))
}

// systemLabel is what tells one system from another in a narrow cell:
// the NixOS version label the host reports, else the store name without
// its "nixos-system-<name>-" prefix.
func systemLabel(name, system, version string) string {
	if version != "" {
		return termtext.Visible(version)
	}
	if system == "" {
		return "-"
	}
	b := path.Base(system)
	if i := strings.IndexByte(b, '-'); i == 32 {
		b = b[i+1:]
	}
	return termtext.Visible(strings.TrimPrefix(b, "nixos-system-"+name+"-"))
}

// cause is an error as a row shows it: one line, made visible, without
// the host's name in front (the row names it).
func cause(host string, err error) string {
	if errors.Is(err, fleet.ErrInterrupted) {
		return "interrupted"
	}
	var ke *remote.HostKeyError
	if errors.As(err, &ke) {
		return ke.Kind.String() + " host key " + ke.Fingerprint
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	// "web01: web01 (10.0.0.1:22): dial: …" reads "dial: …" in web01's row.
	for {
		rest, ok := strings.CutPrefix(msg, host+": ")
		if !ok {
			if rest, ok = strings.CutPrefix(msg, host+" ("); ok {
				_, rest, ok = strings.Cut(rest, "): ")
			}
		}
		if !ok {
			return termtext.Visible(msg)
		}
		msg = rest
	}
}

// ago renders how long ago something happened: "just now", "5m ago",
// "3h ago", "2d ago".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", d/time.Minute)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", d/time.Hour)
	}
	return fmt.Sprintf("%dd ago", d/(24*time.Hour))
}
