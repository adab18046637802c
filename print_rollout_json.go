package main

import (
	"encoding/json"
	"fmt"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
)

// printJSON prints e as one JSON object on one line: "type", "op",
// "time", "host" (for a host's event) and the event's own fields, in
// snake_case. Host text keeps its exact value (termtext.JSON escapes
// only what a terminal would obey).
func (p *printer) printJSON(e fleet.Event) {
	obj := map[string]any{"op": e.Op(), "time": e.At()}
	if e.Host() != "" {
		obj["host"] = e.Host()
	}
	set := func(typ string, kv ...any) {
		obj["type"] = typ
		for i := 0; i+1 < len(kv); i += 2 {
			obj[kv[i].(string)] = kv[i+1]
		}
	}
	switch e := e.(type) {
	case fleet.OpStarted:
		set("op_started", "kind", e.Kind, "hosts", e.Hosts)
	case fleet.OpFinished:
		set("op_finished", "error", errText(e.Err))
	case fleet.RolloutStarted:
		set("rollout_started", "kind", e.Kind, "action", e.Action, "profile", e.Profile, "selector", e.Selector,
			"owner", e.Owner, "canary", e.Canary, "waves", e.Waves)
	case fleet.WaveStarted:
		set("wave_started", "wave", e.Wave, "canary", e.Canary, "hosts", e.Hosts)
	case fleet.WaveHealthy:
		set("wave_healthy", "wave", e.Wave)
	case fleet.RolloutPaused:
		set("paused", "paused", e.Paused)
	case fleet.RolloutHalted:
		set("halted", "reason", e.Reason)
	case fleet.AbortRequested:
		set("abort_requested", "second", e.Second, "in_flight", p.sum.inFlight())
	case fleet.PhaseEvent:
		set("phase", "phase", e.Phase)
	case fleet.LogEvent:
		set("log", "source", e.Source, "line", e.Line)
	case fleet.CopyEvent:
		set("copy", "paths_done", e.PathsDone, "paths_total", e.PathsTotal, "bytes_done", e.BytesDone, "bytes_total", e.BytesTotal)
	case fleet.CopySourceEvent:
		set("copy_source", "substituting", e.Substituting, "from_cache", e.FromCache, "from_operator", e.FromOperator, "bytes", e.Bytes,
			"problem", e.Problem, "detail", e.Detail, "fallback", e.Fallback)
	case fleet.StateEvent:
		if e.State != nil {
			set("state", "current", e.State.Current, "booted", e.State.Booted, "profile", e.State.Profile,
				"profile_generation", e.State.ProfileGeneration)
		} else {
			set("state")
		}
	case fleet.ActivationEvent:
		set("activation", "action", e.Action, "outcome", e.Result.Outcome, "exit_code", e.Result.ExitCode,
			"reconnects", e.Result.Reconnects)
	case fleet.CommandStarted:
		set("command_started", "argv", e.Argv, "privileged", e.Privileged, "local", e.Local, "builder", e.Builder)
	case fleet.CommandEvent:
		set("command", "argv", e.Argv, "privileged", e.Privileged, "local", e.Local, "builder", e.Builder, "exit", e.Exit,
			"duration_ms", e.Duration.Milliseconds(), "error", errText(e.Err))
	case fleet.DoneEvent:
		set("done", "error", errText(e.Err), "interrupted", e.Interrupted())
	case fleet.BuiltEvent:
		set("built", "system", e.System, "where", e.Where)
	case fleet.CachePushEvent:
		set("cache_push", "cache", e.Cache, "paths", e.Paths, "paths_total", e.PathsTotal, "bytes", e.Bytes,
			"done", e.Done, "error", errText(e.Err))
	case fleet.DiffEvent:
		set("diff", "summary", newDiffCounts(e.Diff))
	case fleet.HostOutcome:
		set("outcome", "outcome", e.Outcome, "from_system", e.FromSystem, "to_system", e.ToSystem,
			"from_gen", e.FromGen, "to_gen", e.ToGen, "cause", e.Cause, "lock_broken", e.LockBroken,
			"duration_ms", e.Duration.Milliseconds())
	default:
		set(fmt.Sprintf("%T", e))
	}
	p.writeJSON(obj)
}

// summaryJSON prints the last object: the rollout's result per host and
// the exit code with its reason.
func (p *printer) summaryJSON(code int, err error) {
	s := p.sum
	hosts := make([]map[string]any, 0, len(s.order))
	for _, name := range s.order {
		o := s.outcomeOf(name)
		hosts = append(hosts, map[string]any{"host": name, "outcome": o.Outcome, "from_system": o.FromSystem,
			"to_system": o.ToSystem, "from_gen": o.FromGen, "to_gen": o.ToGen, "cause": o.Cause,
			"lock_broken": o.LockBroken, "duration_ms": o.Duration.Milliseconds()})
	}
	lost := make([]string, len(s.lost))
	for i, l := range s.lost {
		lost[i] = l.Error()
	}
	p.writeJSON(map[string]any{"type": "summary", "op": s.op, "kind": s.kind, "exit_code": code,
		"error": errText(err), "halted": s.halted, "aborted": s.aborts > 0, "hosts": hosts, "not_recorded": lost})
}

// writeJSON prints v on one line.
func (p *printer) writeJSON(v any) {
	if p.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		p.err = fmt.Errorf("write JSON: %w", err)
		return
	}
	_, p.err = p.w.Write(append(termtext.JSON(b), '\n'))
}

// errText is an error's message, "" for none.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
