package main

import (
	"fmt"
	"io"

	"nixdeck/fleet"
)

// selectHosts loads the fleet file and selects the hosts of --on: a
// selection that is wrong or selects nothing is a usage error (exit 2),
// named after the command ("" for none).
func selectHosts(g *globals, on, cmd string, errOut io.Writer) (*fleet.Fleet, []*fleet.Node, error) {
	f, err := loadFleet(g.File, errOut)
	if err != nil {
		return nil, nil, err
	}
	nodes, err := f.Select(on)
	if err != nil {
		return nil, nil, exitCode(2, err)
	}
	if len(nodes) == 0 {
		err := fmt.Errorf("--on %q selects no host", on)
		if cmd != "" {
			err = fmt.Errorf("%s: %w", cmd, err)
		}
		return nil, nil, exitCode(2, err)
	}
	return f, nodes, nil
}

// rolloutOpts are what deploy and rollback share: the confirmation, the
// output, and what tests set.
type rolloutOpts struct {
	Yes  bool `short:"y" help:"Do not ask for confirmation (required without a terminal)."`
	JSON bool `name:"json" help:"Print one JSON object per event, then a summary object."`

	// Set by tests: the hosts' connector (nil: SSH), the state directory
	// ("" for the default) and whether stdin counts as a terminal.
	conn     fleet.Connector
	stateDir string
	terminal func() bool
}

// rolloutRun is what a rollout command works with once it may start:
// the history it records to, the engine and the printer. close releases
// them.
type rolloutRun struct {
	hist *fleet.History
	eng  *fleet.Engine
	p    *printer
}

// begin refuses to go on when no one can confirm (without --yes) or the
// history cannot be written, else opens the engine on f.
func (o *rolloutOpts) begin(f *fleet.Fleet, s session, cmd string) (*rolloutRun, error) {
	if err := s.mayAsk(o.Yes, cmd); err != nil {
		return nil, err
	}
	hist, err := fleet.OpenHistory(o.stateDir)
	if err != nil {
		return nil, fmt.Errorf("%s: nothing can be recorded, so nothing was started: %w", cmd, err)
	}
	p := newPrinter(s.out, o.JSON)
	p.nixOut = s.errOut
	return &rolloutRun{hist: hist, eng: fleet.Open(f, fleet.Options{Connector: o.conn}), p: p}, nil
}

func (r *rolloutRun) close() {
	r.eng.Close()
	r.hist.Close()
}
