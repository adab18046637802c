package ui

import (
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
)

// Terminal is where the console runs: its input and output (a terminal)
// and the signals sent to the process (SIGINT, SIGTERM), which end it as
// a confirmed quit does.
type Terminal struct {
	In      io.Reader
	Out     io.Writer
	Signals <-chan os.Signal
}

// Run opens the console on c in t and returns when the operator has
// quit, with what to tell them afterwards (the hosts a quit in the middle
// of a rollout left in flight; "" for nothing). The caller closes the
// Engine after: the operations still running end then.
func Run(c Config, t Terminal) (string, error) {
	m := New(c)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithInput(t.In), tea.WithOutput(t.Out), tea.WithColorProfile(c.Profile),
		tea.WithoutSignalHandler())
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-t.Signals:
				p.Send(SignalMsg{})
			case <-done:
				return
			}
		}
	}()
	_, err := p.Run()
	return m.Report(), err
}

// Close ends the reads of what the console started; closing the Engine
// then ends the operations themselves.
func (m *Model) Close() { m.cancel() }
