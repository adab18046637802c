package fleet

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"nixdeck/internal/proc"
)

// History keeps the record of rollouts as their events happen: every
// host's outcome appended to the history file (HistoryFile, fsync'd), and
// a log per host (hostLogs) with its output, phases and commands, written
// line by line. It is a rollout's Recorder (Plan.Recorder): the Engine
// passes each event through Record, from every host's goroutine at once,
// before the stream gets it; one History may record several rollouts,
// one after the other or at once (a console). What could not be written
// is kept for Failures: the reader of the stream says so, so that an
// operation never claims a record it did not keep.
type History struct {
	dir string

	hmu  sync.Mutex // one record at a time: the flock is per descriptor, not per goroutine
	hist *historyWriter

	mu       sync.Mutex
	ops      map[string]*opRecord // by operation id, from OpStarted to OpFinished
	failures []error
}

// opRecord is what History keeps of a running operation: its logs and
// what RolloutStarted said of it (owner, selector, action) for its records.
type opRecord struct {
	logs *hostLogs
	info RolloutStarted
}

// OpenHistory opens the history in the state directory dir ("" for
// DefaultStateDir), creating it, so that an operation that cannot be
// recorded fails before it touches a host.
func OpenHistory(dir string) (*History, error) {
	if dir == "" {
		var err error
		if dir, err = DefaultStateDir(); err != nil {
			return nil, err
		}
	}
	h, err := openHistory(dir)
	if err != nil {
		return nil, err
	}
	return &History{dir: dir, hist: h, ops: map[string]*opRecord{}}, nil
}

// History is what a rollout records to.
var _ Recorder = (*History)(nil)

// Record writes what e says to the history or the logs (Recorder). A
// host's log that failed once is given up after its error; history
// records are attempted every time.
func (r *History) Record(e Event) {
	if err := r.record(e); err != nil {
		r.mu.Lock()
		r.failures = append(r.failures, err)
		r.mu.Unlock()
	}
}

// Failures returns what could not be recorded since the last call, each
// error naming the file, and the host for a lost history record. A
// reader of the stream calls it after each event: Record has already
// seen the event by then.
func (r *History) Failures() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.failures
	r.failures = nil
	return f
}

// Dir is the state directory the History writes to.
func (r *History) Dir() string { return r.dir }

// record writes e; an error means a record or a log line was not kept.
func (r *History) record(e Event) error {
	switch e := e.(type) {
	case CopyEvent, CommandStarted:
		// Progress is state, not history; a command is logged when it ends.
		return nil
	case HostOutcome:
		logErr := r.log(e, "#", outcomeLine(e))
		return errors.Join(r.appendOutcome(e), logErr)
	case OpStarted:
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.ops[e.Op()] == nil {
			logs, err := newHostLogs(r.dir, e.Op())
			if err != nil {
				return err
			}
			r.ops[e.Op()] = &opRecord{logs: logs}
		}
		return r.ops[e.Op()].logs.write("", e.At(), "#", fmt.Sprintf("%s started on %s", e.Kind, strings.Join(e.Hosts, ", ")))
	case RolloutStarted:
		r.mu.Lock()
		defer r.mu.Unlock()
		if op := r.ops[e.Op()]; op != nil {
			op.info = e
		}
	case DoneEvent:
		err := r.log(e, "#", doneLine(e))
		r.mu.Lock()
		defer r.mu.Unlock()
		if op := r.ops[e.Op()]; op != nil {
			err = errors.Join(err, op.logs.close(e.Host()))
		}
		return err
	case OpFinished:
		err := r.log(e, "#", doneLine(DoneEvent{Err: e.Err}))
		r.mu.Lock()
		defer r.mu.Unlock()
		if op := r.ops[e.Op()]; op != nil {
			err = errors.Join(err, op.logs.closeAll())
			delete(r.ops, e.Op())
		}
		return err
	}
	tag, text, ok := logLine(e)
	if !ok {
		return nil
	}
	return r.log(e, tag, text)
}

// log writes text to the log of e's host (the operation's for "").
func (r *History) log(e Event, tag, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	op := r.ops[e.Op()]
	if op == nil {
		return fmt.Errorf("log: %s: event outside the operation", e.Op())
	}
	return op.logs.write(e.Host(), e.At(), tag, text)
}

// appendOutcome appends the host's history record.
func (r *History) appendOutcome(e HostOutcome) error {
	var info RolloutStarted
	r.mu.Lock()
	if op := r.ops[e.Op()]; op != nil {
		info = op.info
	}
	r.mu.Unlock()
	rec := HistoryRecord{
		OpID: e.Op(), Operator: info.Owner, Time: e.At(), Kind: info.Kind, Action: info.Action,
		Profile: info.Profile, Selector: info.Selector, Host: e.Host(),
		FromSystem: e.FromSystem, ToSystem: e.ToSystem, FromGen: e.FromGen, ToGen: e.ToGen,
		Outcome: string(e.Outcome), Cause: e.Cause, DurationMS: e.Duration.Milliseconds(),
		LockBroken: e.LockBroken != "",
	}
	r.hmu.Lock()
	defer r.hmu.Unlock()
	return r.hist.append(rec)
}

// Close closes the history file and any log still open (the logs close
// by themselves when the operation finishes).
func (r *History) Close() error {
	var errs []error
	r.mu.Lock()
	for _, op := range r.ops {
		errs = append(errs, op.logs.closeAll())
	}
	r.ops = map[string]*opRecord{}
	r.mu.Unlock()
	r.hmu.Lock()
	defer r.hmu.Unlock()
	return errors.Join(append(errs, r.hist.close())...)
}

// logLine renders an event for the logs: a tag ("[source]" for a line of
// output, "#" for what nixdeck reports) and the text; ok is false for an
// event the logs leave out.
func logLine(e Event) (tag, text string, ok bool) {
	switch e := e.(type) {
	case LogEvent:
		return "[" + e.Source + "]", e.Line, true
	case PhaseEvent:
		return "#", "phase " + string(e.Phase), true
	case CommandEvent:
		return "#", commandLine(e), true
	case ActivationEvent:
		return "#", fmt.Sprintf("activation (%s): %s, exit %d", e.Action, e.Result.Outcome, e.Result.ExitCode), true
	case BuiltEvent:
		if e.Where != "" && e.Where != BuildLocal {
			return "#", "built " + e.System + " on " + e.Where, true
		}
		return "#", "built " + e.System, true
	case CachePushEvent:
		switch {
		case e.Done && e.Err != nil:
			return "#", "cache push to " + e.Cache + " failed: " + e.Err.Error(), true
		case e.Done:
			return "#", fmt.Sprintf("cache push to %s: %d paths, %d bytes", e.Cache, e.Paths, e.Bytes), true
		}
	case StateEvent:
		if e.State != nil {
			return "#", fmt.Sprintf("state: running %s, profile generation %d", e.State.Current, e.State.ProfileGeneration), true
		}
	case WaveStarted:
		kind := "wave"
		if e.Canary {
			kind = "canary wave"
		}
		return "#", fmt.Sprintf("%s %d: %s", kind, e.Wave, strings.Join(e.Hosts, ", ")), true
	case WaveHealthy:
		return "#", fmt.Sprintf("wave %d healthy", e.Wave), true
	case RolloutPaused:
		if e.Paused {
			return "#", "paused", true
		}
		return "#", "resumed", true
	case RolloutHalted:
		return "#", "halted: " + e.Reason, true
	case AbortRequested:
		if e.Second {
			return "#", "abort requested again: stopped waiting for the hosts in flight", true
		}
		return "#", "abort requested: no new host starts", true
	}
	return "", "", false
}

// commandLine logs a command that ended, as lazygit's command log shows it.
func commandLine(e CommandEvent) string {
	where := "$"
	switch {
	case e.Builder != "":
		where = "(" + e.Builder + ") $"
	case e.Local:
		where = "(local) $"
	case e.Privileged:
		where = "(root) $"
	}
	s := fmt.Sprintf("%s %s  [exit %d, %s]", where, proc.Format(shortScripts(e.Argv)), e.Exit, e.Duration.Round(1e6))
	if e.Err != nil && e.Exit != 0 {
		s += "\n" + e.Err.Error()
	}
	return s
}

// shortScripts shows each script argument (nixdeck's own sh -c scripts,
// dozens of lines run for every state read) by its first line, so that
// the log shows what ran without drowning what the host said.
func shortScripts(argv []string) []string {
	out := slices.Clone(argv)
	for i, a := range out {
		if first, _, multi := strings.Cut(a, "\n"); multi {
			out[i] = fmt.Sprintf("%s … (%d lines)", first, strings.Count(a, "\n")+1)
		}
	}
	return out
}

func outcomeLine(e HostOutcome) string {
	s := "outcome: " + string(e.Outcome)
	if e.Cause != "" {
		s += ": " + e.Cause
	}
	if e.LockBroken != "" {
		s += "\nbroke the stale lock of " + e.LockBroken
	}
	return s
}

func doneLine(e DoneEvent) string {
	if e.Err == nil {
		return "finished"
	}
	return "finished: " + e.Err.Error()
}
