package fleet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/internal/proctest"
	"nixdeck/internal/testenv"
)

// TestJournalOnLab follows a real lab host's journal (the lab's
// journalctl, lab/nix/journalctl.sh) over SSH: the past lines of the
// unit first, then each line as the host journals it, only the unit's,
// an overlong line cut; cancelling ends the tail interrupted and leaves
// no process of it on the host.
func TestJournalOnLab(t *testing.T) {
	o := startOpsLab(t, 1)
	host := o.lab.Hosts[0].Name
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A unit of this test's own: its name marks the remote journalctl's
	// command line.
	unit := fmt.Sprintf("nixdeck-jtest-%d.service", rand.Uint32())
	journal := func(unit, text string) {
		t.Helper()
		o.exec(t, ctx, host, `printf '%s\t%s\n' "$1" "$2" >>/run/log/journal/lab.log`, unit, text)
	}
	journal(unit, "past line 1")
	journal("other.service", "noise 1")
	journal(unit, "past line 2")

	jctx, stop := context.WithCancel(ctx)
	defer stop()
	name := strings.TrimSuffix(unit, ".service") // -u nginx means nginx.service
	events := o.eng.Journal(jctx, o.node(t, host), name, 5)
	lines := make(chan string, 100)
	ended := make(chan fleet.DoneEvent, 1)
	go func() {
		defer close(lines)
		for e := range events.All() {
			switch e := e.(type) {
			case fleet.LogEvent:
				if e.Source == fleet.JournalSource && e.Host() == host {
					lines <- e.Line
				}
			case fleet.DoneEvent:
				ended <- e
			}
		}
	}()
	next := func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the journal tail ended")
			}
			return l
		case <-ctx.Done():
			t.Fatal("no journal line came")
		}
		return ""
	}
	for _, want := range []string{"past line 1", "past line 2"} {
		if got := next(); got != want {
			t.Fatalf("journal line %q, want %q", got, want)
		}
	}
	journal("other.service", "noise 2")
	journal(unit, "new line \x1b[2J with an escape")
	if got := next(); got != "new line \x1b[2J with an escape" {
		t.Errorf("followed line %q: another unit's, or not as journalled", got)
	}
	// journalctl follows now (a line written after the past ones came
	// through): the script and its tail -F are on the host. (Before that
	// line, tail -F may not have started yet.)
	pids := proctest.Find(name)
	if len(pids) == 0 {
		t.Fatalf("no journalctl process on the host names %s", name)
	}
	group := proctest.Group(pids[0])
	if len(group) < 2 {
		t.Errorf("journalctl's process group %v: want the script and the tail -F it follows with", group)
	}
	o.exec(t, ctx, host, `{ printf '%s\t' "$1"; head -c 100000 /dev/zero | tr '\0' z; printf '\n'; } >>/run/log/journal/lab.log`, unit)
	long := next()
	if !strings.HasPrefix(long, "zzzz") || !strings.HasSuffix(long, "more bytes cut)") || len(long) > 17<<10 {
		t.Errorf("a 100,000-byte line came as %d bytes: %.40q…%q", len(long), long, long[max(len(long)-40, 0):])
	}
	journal(unit, "after the long line")
	if got := next(); got != "after the long line" {
		t.Errorf("after the long line: %q", got)
	}

	stop()
	select {
	case d := <-ended:
		if !d.Interrupted() {
			t.Errorf("a cancelled tail ended with %v, want interrupted", d.Err)
		}
	case <-ctx.Done():
		t.Fatal("the tail did not end when cancelled")
	}
	for range lines {
	}
	for _, pid := range group {
		if !testenv.WaitExit(pid, 30*time.Second) {
			t.Errorf("process %d of the journalctl's group survived the cancel", pid)
		}
	}
	proctest.AssertGone(t, name, 10*time.Second)
}
