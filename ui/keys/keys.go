// Package keys is the console's key map, in one place: every binding the
// screens match on and the help screen and footer list. Screens never
// compare key strings themselves; they ask key.Matches(msg, keys.X).
package keys

import "charm.land/bubbles/v2/key"

// Map is every key binding of the console, grouped as the help screen
// shows them.
type Map struct {
	// Moving around a list or a pane.
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	// Scrolling a pane's long lines sideways (logs, diffs).
	Left, Right key.Binding
	// Selecting hosts.
	Select, SelectAll, ClearSelection, Filter key.Binding
	// Screens.
	Details, Diff, Generations, Logs, Journal, History, NextPane, Back, Help key.Binding
	// enter on a generation (roll back to it) and on a past operation
	// (open its logs): the same key as Details, said as what it does there.
	RollbackTo, OpenLogs key.Binding
	// Actions on the selected hosts (the highlighted one when none is).
	Switch, Canary, Boot, Test, Rollback, Refresh key.Binding
	// While a rollout runs.
	Pause, Abort key.Binding
	// In the logs pane.
	Search, PrevHost, NextHost, Follow key.Binding
	// The next and the previous match of a search.
	SearchNext, SearchPrev key.Binding
	// Answers to a prompt.
	Yes, No key.Binding
	// Quit asks first while a rollout runs.
	Quit key.Binding
}

// Default is the console's key map.
func Default() Map {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return Map{
		Up:             b("↑/k", "up", "up", "k"),
		Down:           b("↓/j", "down", "down", "j"),
		PageUp:         b("pgup", "page up", "pgup", "ctrl+b"),
		PageDown:       b("pgdn", "page down", "pgdown", "ctrl+f"),
		Top:            b("home", "top", "home"),
		Bottom:         b("end", "bottom", "end"),
		Left:           b("←", "scroll left", "left"),
		Right:          b("→", "scroll right", "right"),
		Select:         b("space", "select", "space"),
		SelectAll:      b("a", "select all", "a"),
		ClearSelection: b("A", "clear selection", "A"),
		Filter:         b("/", "filter", "/"),
		Details:        b("enter", "details", "enter"),
		Diff:           b("d", "diff", "d"),
		Generations:    b("g", "generations", "g"),
		Logs:           b("l", "logs", "l"),
		Journal:        b("J", "journal", "J"),
		History:        b("H", "history", "H"),
		NextPane:       b("tab", "next pane", "tab"),
		RollbackTo:     b("enter", "roll back to it", "enter"),
		OpenLogs:       b("enter", "open its logs", "enter"),
		Back:           b("esc", "back", "esc"),
		Help:           b("?", "help", "?"),
		Switch:         b("s", "switch", "s"),
		Canary:         b("c", "canary rollout", "c"),
		Boot:           b("b", "boot", "b"),
		Test:           b("t", "test", "t"),
		Rollback:       b("r", "roll back", "r"),
		Refresh:        b("R", "refresh", "R"),
		Pause:          b("p", "pause/resume", "p"),
		Abort:          b("x", "abort", "x"),
		Search:         b("/", "search", "/"),
		PrevHost:       b("[", "previous host", "["),
		NextHost:       b("]", "next host", "]"),
		Follow:         b("f", "follow", "f"),
		SearchNext:     b("n", "next match", "n"),
		SearchPrev:     b("N", "previous match", "N"),
		Yes:            b("y", "yes", "y"),
		No:             b("n", "no", "n", "esc"),
		Quit:           b("q", "quit", "q", "ctrl+c"),
	}
}

// Group is a titled set of bindings, as the help screen lists them.
type Group struct {
	Title string
	Keys  []key.Binding
}

// Groups is every binding of m in the help screen's order and groups; a
// disabled binding is still listed (the help says what the keys are,
// the footer what applies now).
func (m Map) Groups() []Group {
	return []Group{
		{"Move", []key.Binding{m.Up, m.Down, m.PageUp, m.PageDown, m.Top, m.Bottom, m.Left, m.Right}},
		{"Select", []key.Binding{m.Select, m.SelectAll, m.ClearSelection, m.Filter}},
		{"Screens", []key.Binding{m.Details, m.Diff, m.Generations, m.Logs, m.Journal, m.History, m.NextPane, m.Back, m.Help}},
		{"Change hosts (selected, else highlighted)", []key.Binding{m.Switch, m.Canary, m.Boot, m.Test, m.Rollback, m.Refresh}},
		{"Generations and history", []key.Binding{m.RollbackTo, m.OpenLogs}},
		{"While a rollout runs", []key.Binding{m.Pause, m.Abort}},
		{"Logs", []key.Binding{m.Search, m.SearchNext, m.SearchPrev, m.PrevHost, m.NextHost, m.Follow}},
		{"Prompts", []key.Binding{m.Yes, m.No}},
		{"Quit", []key.Binding{m.Quit}},
	}
}
