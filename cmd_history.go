package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"nixdeck/fleet"
	"nixdeck/internal/termtext"
)

// historyCmd is `nixdeck history`: the past deploys and rollbacks from
// the history file, one record per host, oldest first.
type historyCmd struct {
	Host string `placeholder:"H" help:"Only the records of this host."`
	Last int    `placeholder:"N" help:"Only the last N operations (that touched --host, with it)."`
	JSON bool   `name:"json" help:"Print the records as a JSON array, as the history file keeps them."`

	stateDir string // tests; "" for the default
}

// Run implements `nixdeck history`. It reads no fleet file: the history
// is this machine's, across fleets.
func (c *historyCmd) Run() error { return c.run(os.Stdout) }

func (c *historyCmd) run(w io.Writer) error {
	if c.Last < 0 {
		return exitCode(2, fmt.Errorf("history: --last %d: want 1 or more", c.Last))
	}
	dir := c.stateDir
	if dir == "" {
		var err error
		if dir, err = fleet.DefaultStateDir(); err != nil {
			return err
		}
	}
	recs, err := fleet.ReadHistory(dir, fleet.HistoryFilter{Host: c.Host, Last: c.Last})
	if err != nil {
		return err
	}
	if c.JSON {
		if recs == nil {
			recs = []fleet.HistoryRecord{}
		}
		return writeJSON(w, recs)
	}
	if len(recs) == 0 {
		_, err := fmt.Fprintln(w, "no operations recorded")
		return err
	}
	return writeHistoryTable(w, recs)
}

// writeHistoryTable prints one row per record: when, which operation and
// who, what it did to which host and how that ended.
func writeHistoryTable(w io.Writer, recs []fleet.HistoryRecord) error {
	rows := [][]string{{"TIME", "OPERATION", "OPERATOR", "ACTION", "HOST", "GENERATION", "OUTCOME", "DURATION", "CAUSE"}}
	for _, r := range recs {
		action := r.Action
		if r.Kind == fleet.PlanRollback {
			action = "rollback"
		}
		gen := genChange(r.FromGen, r.ToGen)
		if gen == "" {
			gen = "-"
		}
		cause := r.Cause
		if r.LockBroken {
			cause = strings.TrimSuffix("broke a stale lock; "+cause, "; ")
		}
		rows = append(rows, []string{r.Time.Local().Format(time.DateTime), r.OpID, r.Operator, action, r.Host, gen,
			r.Outcome, formatDuration(time.Duration(r.DurationMS) * time.Millisecond), orDash(cause)})
	}
	return termtext.WriteTable(w, rows)
}
