// Package ui is nixdeck's console: a Bubble Tea program over the fleet
// engine. One root Model owns every screen's state and routes keys and
// messages; the screens and dialogs are plain structs it draws; every
// read of a host, a file or a stream happens in a tea.Cmd, and engine
// streams are read in batches (Events.NextBatch) so that a burst of log
// lines costs one message, not one per line.
package ui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

// Config is what the console runs on.
type Config struct {
	// Fleet is the loaded fleet file; Engine runs operations on it.
	Fleet  *fleet.Fleet
	Engine Engine
	// StateDir holds the history and the operations' logs.
	StateDir string
	// RootDir holds the gc roots of the systems the console builds (the
	// drift column's, an action's until its rollout ends): the caller
	// makes it and removes it once the Engine is closed.
	RootDir string
	// Recorder keeps what rollouts do (a *fleet.History); nil records
	// nothing (tests).
	Recorder Recorder
	// Owner is "user@machine", written into locks and the history.
	Owner string
	// Profile is the terminal's colour profile, under styles.Profile's
	// policy: no colours or attributes at all with NO_COLOR; the 16 colours
	// of the terminal's own theme, readable on its background, otherwise.
	Profile colorprofile.Profile
	// LogLines is how many lines of each host's log the console keeps in
	// memory (the on-disk log keeps them all); 0 means DefaultLogLines.
	LogLines int
	// Trust appends host keys to their known_hosts files; nil means
	// remote.AppendKnownHosts, unhashed, as `nixdeck trust` does.
	Trust func(keys []remote.HostKey) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Recorder is what the console records rollouts to: each event before
// the stream has it, and what could not be written.
type Recorder interface {
	fleet.Recorder
	Failures() []error
}

// DefaultLogLines is how many log lines per host the console keeps.
const DefaultLogLines = 10000

// screen is what fills the console between its title and its footer.
type screen int

const (
	screenFleet screen = iota
	screenDetails
	screenGenerations
	screenHistory
	screenOpLogs
	screenDiff
	screenRollout
	screenLogs
	screenHelp
)

// Model is the console's root model: the one tea.Model of the program.
type Model struct {
	cfg    Config
	ctx    context.Context // ends every operation and stream read on quit
	cancel context.CancelFunc
	st     *styles.Styles
	keys   keys.Map
	width  int
	height int

	screen  screen
	back    screen // where esc returns to from help
	helpTop int    // the help screen's first line shown

	rows   []*hostRow // fleet order
	byName map[string]*hostRow
	table  table

	ops    map[int]*operation
	nextOp int

	gens   genScreen
	hist   historyScreen
	prep   *preparation // an action being built, diffed or confirmed
	ro     *rollout     // the rollout running, or the last one
	dialog dialog       // the modal on top, nil for none
	trustQ []*remote.HostKeyError

	panes

	// after delivers msg after d: tea.Tick, and a test's clock in tests.
	after func(d time.Duration, msg tea.Msg) tea.Cmd

	status status
	spin   int  // spinner frame
	tick   bool // a tick is on its way
	redraw redraw
	report string // what Run prints after the console closes
}

// New returns the console's model on c.
func New(c Config) *Model {
	if c.LogLines <= 0 {
		c.LogLines = DefaultLogLines
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Trust == nil {
		c.Trust = func(k []remote.HostKey) error { _, err := remote.AppendKnownHosts(k, false); return err }
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{cfg: c, ctx: ctx, cancel: cancel, keys: keys.Default(),
		width: 80, height: 24, byName: map[string]*hostRow{}, ops: map[int]*operation{}}
	m.st = styles.New(c.Profile)
	m.after = func(d time.Duration, msg tea.Msg) tea.Cmd {
		return tea.Tick(d, func(time.Time) tea.Msg { return msg })
	}
	for _, n := range c.Fleet.Nodes {
		r := newHostRow(n)
		m.rows = append(m.rows, r)
		m.byName[n.Name] = r
	}
	m.table = newTable(m.rows)
	m.table.filter.SetStyles(m.st.Input())
	m.initViews()
	return m
}

// Init reads every host's state, builds the fleet for the drift column
// and reads the history for the last outcomes, all at once.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.refresh(m.rows), m.buildForDrift(), m.loadLastOutcomes())
}

// Update routes msg to what it concerns.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	return m, cmd
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		m.redraw.now()
		return m.onKey(msg)
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.redraw.now()
	case eventsMsg:
		return m.onEvents(msg)
	case tickMsg:
		return m.onTick()
	case statusExpiredMsg:
		if msg.seq == m.status.seq {
			m.status = status{seq: m.status.seq}
			m.redraw.now()
		}
	case SignalMsg:
		return m.onSignal()
	default:
		m.redraw.now()
		return m.onResult(msg)
	}
	return nil
}

// View draws the console: the last frame again unless something it
// shows has changed. Streams mark the frame stale for the next tick,
// not at once, so that 10,000 log lines a second cost 20 frames.
func (m *Model) View() tea.View {
	if m.redraw.stale || m.redraw.frame == "" {
		m.redraw.frame = m.render()
		m.redraw.stale = false
	}
	v := tea.NewView(m.redraw.frame)
	v.AltScreen = true
	v.WindowTitle = "nixdeck"
	return v
}

// Report is what the console has to say after it closed: the hosts a
// quit left in flight, or nothing.
func (m *Model) Report() string { return m.report }

// redraw is the frame cache: the last frame drawn, whether it must be
// drawn again before the next View, and whether something a stream
// changed waits for the next tick.
type redraw struct {
	frame   string
	stale   bool
	pending bool
}

// now makes the next View draw a new frame.
func (r *redraw) now() { r.stale = true }

// later makes the next tick draw a new frame.
func (r *redraw) later() { r.pending = true }
