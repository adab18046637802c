// Package rolloutview is the console's rollout pane: the plan (canary,
// waves), a row per host with its phase, copy progress, time and
// outcome, the overall progress and the failure budget, and the keys
// that pause and abort. It is built from the rollout's own events
// (Apply), the stream the headless deploy prints, and drives the
// rollout through Control.
package rolloutview

import (
	"slices"
	"time"

	"charm.land/bubbles/v2/progress"

	"nixdeck/fleet"
	"nixdeck/nix"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// Control is what the pane's keys act on: a running rollout, whose
// calls never block (*fleet.Rollout).
type Control interface {
	Pause()
	Resume()
	Abort()
}

var _ Control = (*fleet.Rollout)(nil)

// Model is a rollout as its events told it. Apply changes it in place
// (the root model calls it for each event of a batch); Update handles
// the keys; View draws the rows in view only, so a frame of a thousand
// hosts costs what a frame of twenty does.
type Model struct {
	st   *styles.Styles
	keys keys.Map
	ctl  Control
	bar  progress.Model

	// From OpStarted and RolloutStarted.
	op, kind, action, owner string
	canary                  []string
	waves                   []wave
	started, finished       time.Time
	opErr                   string // OpFinished's error, made visible

	rows       []*row
	index      map[string]int // host → row
	labelWidth int            // the widest row label, in cells

	budget       int // max_failures; -1 when not known
	failures     int
	paused       bool
	asked        string // a call made and not yet reported: "pausing", …
	aborts       int    // AbortRequested events: 1, then 2 for the second
	abortsCalled int    // calls of Control.Abort, ahead of the events
	halted       string // RolloutHalted's reason, made visible

	now           time.Time // the clock View reads; zero: time.Now
	width, height int
	cursor, top   int
	// follow keeps the cursor on the first host at work, until the
	// operator moves it (f brings it back).
	follow bool
}

// wave is one wave of the plan and how far it got.
type wave struct {
	hosts   []string
	canary  bool
	state   waveState
	started time.Time
}

type waveState int

const (
	wavePending waveState = iota
	waveRunning
	waveHealthy
)

// row is one host of the rollout.
type row struct {
	host   string // the node name, as the events name it
	name   string // the same, made visible
	canary bool
	wave   int // from 1; 0 before the plan says
	phase  fleet.Phase
	start  time.Time // its first phase after queued
	end    time.Time // its outcome
	copy   nix.CopyProgress
	last   string // its last log line, made visible and cut
	// source says where its copied paths came from (CopySourceEvent.
	// Text, safe to print), once its copy has ended.
	source string

	outcome        fleet.Outcome // "" until it has one
	cause          string        // made visible
	fromGen, toGen int
	took           time.Duration
	interrupted    bool
}

// New returns an empty pane: Apply gives it a rollout, SetControl the
// rollout's handle, SetSize room.
func New(st *styles.Styles, km keys.Map) Model {
	bar := progress.New(progress.WithFillCharacters('█', '░'), progress.WithoutPercentage(),
		progress.WithColors(st.ProgressDone.GetForeground()))
	bar.EmptyColor = st.ProgressTodo.GetForeground()
	return Model{st: st, keys: km, bar: bar, index: map[string]int{}, budget: -1, follow: true}
}

// SetSize gives the pane its width and height in cells.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = max(width, 0), max(height, 0)
	m.scroll()
}

// SetControl sets the rollout p and x act on; nil leaves them without
// effect (a rollout read back from history).
func (m *Model) SetControl(c Control) { m.ctl = c }

// SetBudget sets the rollout's max_failures (Plan.Policy.MaxFailures,
// which its events do not carry), for the budget line; negative hides it.
func (m *Model) SetBudget(maxFailures int) { m.budget = maxFailures }

// SetNow sets the clock the elapsed times are read against, for the
// root model's redraw tick; until it is called, View reads time.Now.
func (m *Model) SetNow(t time.Time) { m.now = t }

// Focused is the host of the highlighted row; "" before any.
func (m Model) Focused() string {
	if m.cursor < len(m.rows) {
		return m.rows[m.cursor].host
	}
	return ""
}

// Hosts are the rollout's hosts, in the order of its rows (the fleet's).
func (m Model) Hosts() []string {
	out := make([]string, len(m.rows))
	for i, r := range m.rows {
		out[i] = r.host
	}
	return out
}

// Running reports whether the rollout has started and not finished:
// quitting then asks first.
func (m Model) Running() bool { return m.op != "" && m.finished.IsZero() }

// InFlight are the hosts started and not yet ended, in fleet order: the
// ones a quit leaves behind.
func (m Model) InFlight() []string {
	var out []string
	for _, r := range m.rows {
		if r.working() {
			out = append(out, r.host)
		}
	}
	return out
}

// working reports whether the host has started and not ended.
func (r *row) working() bool {
	return r.outcome == "" && !slices.Contains([]fleet.Phase{"", fleet.PhaseQueued}, r.phase)
}

// clock is the time the elapsed times are read against.
func (m Model) clock() time.Time {
	if m.now.IsZero() {
		return time.Now()
	}
	return m.now
}
