package rolloutview

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// t0 is when the test rollouts start.
var t0 = time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)

const opID = "deploy-20240701T100000-3f2a9c"

// at is the EventBase of an event about host ("" for the rollout) sec
// seconds after t0.
func at(host string, sec float64) fleet.EventBase {
	return fleet.EventBase{OpID: opID, HostName: host, Time: t0.Add(time.Duration(sec * float64(time.Second)))}
}

// plan is a rollout's first events: hosts queued, the canary wave, then
// waves of batch hosts.
func plan(hosts []string, canary []string, batch int) []fleet.Event {
	evs := []fleet.Event{fleet.OpStarted{EventBase: at("", 0), Kind: "deploy", Hosts: hosts}}
	for _, h := range hosts {
		evs = append(evs, fleet.PhaseEvent{EventBase: at(h, 0), Phase: fleet.PhaseQueued})
	}
	var waves [][]string
	if len(canary) > 0 {
		waves = append(waves, canary)
	}
	var rest []string
	for _, h := range hosts {
		if !slices.Contains(canary, h) {
			rest = append(rest, h)
		}
	}
	for len(rest) > 0 {
		n := min(batch, len(rest))
		waves = append(waves, rest[:n])
		rest = rest[n:]
	}
	return append(evs, fleet.RolloutStarted{EventBase: at("", 0), Kind: "deploy", Action: "switch", Profile: "system",
		Owner: "root@deck", Canary: canary, Waves: waves})
}

// phases are a host's phases from sec on, a second apart.
func phases(host string, sec float64, ps ...fleet.Phase) []fleet.Event {
	var evs []fleet.Event
	for i, p := range ps {
		evs = append(evs, fleet.PhaseEvent{EventBase: at(host, sec+float64(i)), Phase: p})
	}
	return evs
}

// done is a host's end as the engine emits it: final phase, outcome,
// DoneEvent.
func done(host string, sec float64, o fleet.Outcome, cause string, interrupted bool) []fleet.Event {
	phase := fleet.PhaseFailed
	switch {
	case o == fleet.OutcomeDone || o == fleet.OutcomeUnchanged:
		phase = fleet.PhaseDone
	case o == fleet.OutcomeSkipped || interrupted:
		phase = fleet.PhaseInterrupted
	}
	out := fleet.HostOutcome{EventBase: at(host, sec), Outcome: o, Cause: cause, FromGen: 41, ToGen: 42,
		Duration: time.Duration(sec * float64(time.Second))}
	var err error
	switch {
	case interrupted:
		err = &fleet.HostError{Host: host, Err: fmt.Errorf("%s: %w", cause, fleet.ErrInterrupted)}
	case o != fleet.OutcomeDone && o != fleet.OutcomeUnchanged:
		err = &fleet.HostError{Host: host, Err: errors.New(cause)}
	}
	return []fleet.Event{fleet.PhaseEvent{EventBase: at(host, sec), Phase: phase}, out, fleet.DoneEvent{EventBase: at(host, sec), Err: err}}
}

// copying is a copy progress report.
func copying(host string, sec float64, paths, pathsTotal int, bytes, bytesTotal int64) fleet.Event {
	return fleet.CopyEvent{EventBase: at(host, sec), CopyProgress: nix.CopyProgress{PathsDone: paths, PathsTotal: pathsTotal, BytesDone: bytes, BytesTotal: bytesTotal}}
}

func logLine(host string, sec float64, line string) fleet.Event {
	return fleet.LogEvent{EventBase: at(host, sec), Source: "activate", Line: line}
}

// apply applies the events, in order, to m.
func apply(m *Model, evs ...[]fleet.Event) {
	for _, es := range evs {
		for _, e := range es {
			m.Apply(e)
		}
	}
}

func one(e fleet.Event) []fleet.Event { return []fleet.Event{e} }
