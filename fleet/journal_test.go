package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"nixdeck/internal/proc"
	"nixdeck/nix"
)

// The command is journalctl following the journal, privileged, its
// output streamed without a total bound; the unit is checked first.
func TestJournalCmd(t *testing.T) {
	base := []string{"journalctl", "--no-pager", "--quiet", "--follow", "--lines"}
	tests := []struct {
		unit  string
		lines int
		argv  []string
		err   string
	}{
		{"", 0, append(slices.Clone(base), "200"), ""},
		{"", -5, append(slices.Clone(base), "200"), ""},
		{"", 50, append(slices.Clone(base), "50"), ""},
		{"", 1_000_000, append(slices.Clone(base), "10000"), ""},
		{"nginx", 200, append(slices.Clone(base), "200", "--unit", "nginx"), ""},
		{"getty@tty1.service", 10, append(slices.Clone(base), "10", "--unit", "getty@tty1.service"), ""},
		{"sys-*.mount", 10, append(slices.Clone(base), "10", "--unit", "sys-*.mount"), ""},
		{`system-systemd\x2dcryptsetup.slice`, 10, append(slices.Clone(base), "10", "--unit", `system-systemd\x2dcryptsetup.slice`), ""},
		{"-f", 10, nil, `unit "-f": not a systemd unit name or pattern`},
		{"--since=today", 10, nil, "not a systemd unit name"},
		{"nginx; reboot", 10, nil, "not a systemd unit name"},
		{"nginx\n", 10, nil, "not a systemd unit name"},
		{"ngïnx", 10, nil, "not a systemd unit name"},
		{strings.Repeat("a", 257), 10, nil, "not a systemd unit name"},
	}
	for _, tt := range tests {
		c, err := journalCmd(tt.unit, tt.lines)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("journalCmd(%q): %v, want an error with %q", tt.unit, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(c.Argv, tt.argv) || !c.Privileged || c.MaxOutput != proc.NoOutputLimit {
			t.Errorf("journalCmd(%q, %d) = %+v, %v; want argv %q", tt.unit, tt.lines, c, err, tt.argv)
		}
	}
}

// Lines come out whole however the writes split them; a line longer than
// the bound is cut with a note, and the writer holds no more than the
// bound of it meanwhile.
func TestCutLines(t *testing.T) {
	var got []string
	c := newCutLines(10, func(l string) { got = append(got, l) })
	for _, w := range []string{"one\ntw", "o\n", "\n", "0123456789abc", "def\nlast"} {
		if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
		if len(c.buf) > 10 {
			t.Fatalf("holds %d bytes, bound 10", len(c.buf))
		}
	}
	c.Flush()
	c.Flush()
	want := []string{"one", "two", "", "0123456789 … (6 more bytes cut)", "last"}
	if !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	got = nil
	big := newCutLines(1024, func(l string) { got = append(got, l) })
	chunk := []byte(strings.Repeat("x", 64<<10))
	for range 16 {
		big.Write(chunk)
	}
	big.Flush()
	if len(got) != 1 || !strings.HasSuffix(got[0], fmt.Sprintf(" … (%d more bytes cut)", 16*64<<10-1024)) || cap(big.buf) > 2048 {
		t.Errorf("a 1 MiB line: %d lines, buffer capacity %d", len(got), cap(big.buf))
	}
}

// journalHost is a host whose journalctl prints lines on stdout and
// stderr, in pieces, then follows until cancelled.
func journalHost(t *testing.T, calls chan<- nix.Cmd) nix.Runner {
	return runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		calls <- c
		io.WriteString(c.Stdout, "Dec 01 10:00:00 web01 nginx[1]: started\nDec 01 10:00:01 web01 ng")
		io.WriteString(c.Stderr, "Hint: you are not seeing messages from other users.\n")
		io.WriteString(c.Stdout, "inx[1]: \x1b[31mworking\x1b[0m\n"+strings.Repeat("y", maxLogLine+5)+"\n")
		<-ctx.Done()
		return fmt.Errorf("web01: journalctl: %w", ctx.Err())
	})
}

// Journal streams each line as a LogEvent from "journal" as it comes,
// and a cancelled tail ends interrupted, not failed.
func TestJournalStreamsUntilCancelled(t *testing.T) {
	calls := make(chan nix.Cmd, 1)
	e := engine(t, fakeConnector{runners: map[string]nix.Runner{"web01": journalHost(t, calls)}}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := e.Journal(ctx, nodes("web01")[0], "nginx", 0)
	var lines []string
	var done *DoneEvent
	var finished bool
	for ev := range s.All() {
		switch ev := ev.(type) {
		case LogEvent:
			if ev.Source != JournalSource || ev.Host() != "web01" {
				t.Errorf("log event %+v", ev)
			}
			lines = append(lines, ev.Line)
			if len(lines) == 4 {
				cancel()
			}
		case DoneEvent:
			done = &ev
		case OpStarted:
			if ev.Kind != "journal" || !slices.Equal(ev.Hosts, []string{"web01"}) {
				t.Errorf("started %+v", ev)
			}
		case OpFinished:
			finished = ev.Err == nil
		}
	}
	c := <-calls
	if want := []string{"journalctl", "--no-pager", "--quiet", "--follow", "--lines", "200", "--unit", "nginx"}; !slices.Equal(c.Argv, want) {
		t.Errorf("argv %q, want %q", c.Argv, want)
	}
	slices.Sort(lines) // stdout and stderr are two streams: no order between them
	want := []string{
		"Dec 01 10:00:00 web01 nginx[1]: started",
		"Dec 01 10:00:01 web01 nginx[1]: \x1b[31mworking\x1b[0m", // kept exact: printers make it visible
		"Hint: you are not seeing messages from other users.",
		strings.Repeat("y", maxLogLine) + " … (5 more bytes cut)",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if done == nil || !done.Interrupted() || !finished {
		t.Errorf("done %+v, finished %v: want an interrupted host and a finished operation", done, finished)
	}
}

// A journalctl that fails, or ends by itself, ends the host failed with
// the cause; a bad unit ends it before anything is run.
func TestJournalFails(t *testing.T) {
	exit := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		io.WriteString(c.Stderr, "sh: journalctl: not found\n")
		return &proc.ExitError{Host: "web01", Argv: c.Argv, Code: 127}
	})
	ended := runnerFunc(func(ctx context.Context, c nix.Cmd) error { return nil })
	never := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		t.Errorf("ran %q for a bad unit", c.Argv)
		return nil
	})
	tests := []struct {
		runner nix.Runner
		unit   string
		want   string
		lines  []string
	}{
		{exit, "", "web01: journal: ", []string{"sh: journalctl: not found"}},
		{ended, "", "web01: journal: journalctl ended by itself", nil},
		{never, "-x", `web01: journal: unit "-x": not a systemd unit name or pattern`, nil},
	}
	for _, tt := range tests {
		e := engine(t, fakeConnector{runners: map[string]nix.Runner{"web01": tt.runner}}, 1)
		var doneErr, opErr error
		var got []string
		for ev := range e.Journal(context.Background(), nodes("web01")[0], tt.unit, 10).All() {
			switch ev := ev.(type) {
			case DoneEvent:
				doneErr = ev.Err
			case OpFinished:
				opErr = ev.Err
			case LogEvent:
				got = append(got, ev.Line)
			}
		}
		var he *HostError
		if doneErr == nil || !errors.As(doneErr, &he) || he.Host != "web01" || !strings.Contains(doneErr.Error(), tt.want) {
			t.Errorf("unit %q: done with %v, want a host error with %q", tt.unit, doneErr, tt.want)
		}
		if !slices.Equal(got, tt.lines) {
			t.Errorf("unit %q: lines %q, want %q", tt.unit, got, tt.lines)
		}
		if (tt.unit == "-x") != (opErr != nil) {
			t.Errorf("unit %q: operation error %v", tt.unit, opErr)
		}
	}
}
