package ui

import (
	"errors"
	"os"
	"testing"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
)

// Each one-shot command's failure reaches the operator: on the status
// line, or in an error pane when it stops what was asked.
func TestResultFailures(t *testing.T) {
	boom := errors.New("disk full")
	tests := []struct {
		name  string
		setup func(d *driver)
		msg   any
		want  string
	}{
		{"history at start", nil, lastOutcomesMsg{err: boom}, "error: history: disk full"},
		{"history screen", func(d *driver) { d.press("H") }, historyMsg{err: boom}, "error: disk full"},
		{"operation logs", func(d *driver) { d.press("H") }, opLogsMsg{err: boom}, "error: disk full"},
		{"trust", nil, trustedMsg{ke: &remote.HostKeyError{Name: "web01"}, err: boom}, "Host key not added"},
		{"gc roots", nil, removeFailedMsg{boom}, "error: gc roots left behind: disk full"},
		{"build directory", func(d *driver) {
			d.m.prep = &preparation{act: actSwitch, nodes: []*fleet.Node{d.m.rows[0].node}}
		}, prepDirMsg{err: boom}, "Switch: nothing was built"},
	}
	for _, tt := range tests {
		d := start(t, testFleet(), upToDate)
		d.resize(120, 30)
		if tt.setup != nil {
			tt.setup(d)
		}
		d.send(tt.msg)
		d.shows(tt.want)
	}
}

// A build directory made for an action cancelled meanwhile is removed,
// and nothing is built in it.
func TestPrepDirAfterCancel(t *testing.T) {
	d := start(t, testFleet(), upToDate)
	dir := t.TempDir()
	calls := len(d.eng.called())
	d.send(prepDirMsg{dir: dir})
	if len(d.eng.called()) != calls {
		t.Errorf("built for no action: %q", d.eng.called()[calls:])
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s left behind", dir)
	}
}
