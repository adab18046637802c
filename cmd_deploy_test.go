package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"nixdeck/fleet"
)

const deployFleet = `file: ./default.nix
nodes:
  web01: {host: web01.example.org, tags: [web]}
  web02: {host: web02.example.org, tags: [web]}
  web03: {host: web03.example.org, tags: [web]}
  db1: {host: db1.example.org, tags: [db]}
deploy:
  action: switch
  parallel: 4
  canary: [web01, db1]
  batch: 2
  max_failures: 1
  on_failure: rollback-failed
  soak: 10s
  confirm_timeout: 20s
`

func parseFleet(t *testing.T, src string) *fleet.Fleet {
	t.Helper()
	f, err := fleet.Parse("fleet.yaml", "/fleet/fleet.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// parseDeploy parses a deploy command line as main does.
func parseDeploy(t *testing.T, args ...string) (*deployCmd, error) {
	t.Helper()
	var c cli
	p, err := kong.New(&c, kong.Name("nixdeck"), kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Parse(append([]string{"deploy"}, args...))
	return &c.Deploy, err
}

// Flags override the fleet file's deploy block one by one; what is not
// given stays as the file says.
func TestDeployFlagsOverride(t *testing.T) {
	f := parseFleet(t, deployFleet)
	all := f.Nodes
	c, err := parseDeploy(t)
	if err != nil {
		t.Fatal(err)
	}
	p, canary, err := c.policy(f, all)
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != "switch" || p.Parallel != 4 || p.Batch.String() != "2" || p.MaxFailures != 1 || p.OnFailure != "rollback-failed" ||
		p.Soak != 10*time.Second || !p.MagicRollback || p.ConfirmTimeout != 20*time.Second || names(canary) != "web01, db1" {
		t.Errorf("no flags: %+v, canary %s", p, names(canary))
	}

	c, err = parseDeploy(t, "--action", "test", "--canary", "@web", "--batch", "50%", "--parallel", "2", "--max-failures", "0",
		"--on-failure", "rollback-all", "--soak", "1m", "--no-magic-rollback", "--confirm-timeout", "45s", "--break-lock", "--cache-required", "--yes", "--json")
	if err != nil {
		t.Fatal(err)
	}
	p, canary, err = c.policy(f, all)
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != "test" || p.Parallel != 2 || p.Batch.String() != "50%" || p.MaxFailures != 0 || p.OnFailure != "rollback-all" ||
		p.Soak != time.Minute || p.MagicRollback || p.ConfirmTimeout != 45*time.Second || names(canary) != "web01, web02, web03" {
		t.Errorf("every flag: %+v, canary %s", p, names(canary))
	}
	if !c.BreakLock || !c.CacheRequired || !c.Yes || !c.JSON {
		t.Errorf("break-lock %v, cache-required %v, yes %v, json %v", c.BreakLock, c.CacheRequired, c.Yes, c.JSON)
	}

	// --canary '' turns the file's canary off; the file's canary outside
	// --on is no canary; a --canary outside it is a mistake.
	c, _ = parseDeploy(t, "--canary", "")
	if _, canary, err := c.policy(f, all); err != nil || canary != nil {
		t.Errorf("--canary '': %s, %v", names(canary), err)
	}
	web, _ := f.Select("web02,web03")
	c, _ = parseDeploy(t)
	if _, canary, err := c.policy(f, web); err != nil || canary != nil {
		t.Errorf("file canary outside --on: %s, %v", names(canary), err)
	}
	c, _ = parseDeploy(t, "--canary", "db1")
	if _, _, err := c.policy(f, web); err == nil || !strings.Contains(err.Error(), "--canary selects none of the hosts being deployed") {
		t.Errorf("--canary outside --on: %v", err)
	}
}

// A flag out of its range is refused with the range, before anything runs.
func TestDeployFlagsInvalid(t *testing.T) {
	f := parseFleet(t, deployFleet)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--batch", "0"}, `--batch: "0" is not a host count (1 or more) or a percentage (25%)`},
		{[]string{"--batch", "120%"}, `--batch: "120%" is not a percentage (1%-100%)`},
		{[]string{"--parallel", "0"}, "--parallel 0: want 1 or more"},
		{[]string{"--max-failures=-1"}, "--max-failures -1: want 0 or more"},
		{[]string{"--soak=-5s"}, "--soak -5s: want 0 or more"},
		{[]string{"--confirm-timeout", "500ms"}, "--confirm-timeout 500ms: want 1s or more"},
		{[]string{"--canary", "nosuch"}, "--canary: "},
	} {
		c, err := parseDeploy(t, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if _, _, err := c.policy(f, f.Nodes); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %s", tc.args, err, tc.want)
		}
	}
	// Kong checks the enums.
	for _, args := range [][]string{{"--action", "reboot"}, {"--on-failure", "ignore"}, {"--parallel", "many"}} {
		if _, err := parseDeploy(t, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// Without a terminal nothing starts unless --yes; on one, only y or yes
// goes ahead.
func TestConfirm(t *testing.T) {
	noTTY := session{terminal: func() bool { return false }}
	var ee *exitError
	if err := noTTY.mayAsk(false, "deploy"); !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "pass --yes") {
		t.Errorf("no terminal: %v", err)
	}
	if err := noTTY.mayAsk(true, "deploy"); err != nil {
		t.Errorf("no terminal, --yes: %v", err)
	}
	for answer, ok := range map[string]bool{"y\n": true, "YES\n": true, " yes \n": true, "n\n": false, "\n": false, "": false, "sure\n": false} {
		var errOut bytes.Buffer
		s := session{in: strings.NewReader(answer), errOut: &errOut, terminal: func() bool { return true }}
		err := s.confirm(context.Background(), false, "Deploy to 3 hosts (switch)?")
		if ok != (err == nil) || !ok && !errors.Is(err, errNotConfirmed) {
			t.Errorf("answer %q: %v", answer, err)
		}
		if errOut.String() != "Deploy to 3 hosts (switch)? [y/N] " {
			t.Errorf("prompt %q", errOut.String())
		}
	}
	// Ctrl-C at the prompt: the context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	blocked, w := io.Pipe() // never written: the answer never comes
	defer w.Close()
	s := session{in: blocked, errOut: &bytes.Buffer{}}
	if err := s.confirm(ctx, false, "?"); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted prompt: %v", err)
	}
}

// fakeRollout is a rollout whose events the test sends one at a time and
// whose Abort calls it sees.
type fakeRollout struct {
	events chan fleet.Event
	aborts chan struct{}
}

func (f *fakeRollout) Abort() { f.aborts <- struct{}{} }

func (f *fakeRollout) Next(ctx context.Context) (fleet.Event, bool) {
	e, ok := <-f.events
	return e, ok
}

// Ctrl-C once aborts the rollout and says which hosts are in flight;
// twice stops waiting and says they go on by themselves; the exit code
// is 130.
func TestFollowCtrlC(t *testing.T) {
	ro := &fakeRollout{events: make(chan fleet.Event), aborts: make(chan struct{})}
	sigs := make(chan os.Signal, 2)
	restored := false
	s := session{divert: func() (<-chan os.Signal, func()) { return sigs, func() { restored = true } }}
	var out bytes.Buffer
	p := newPrinter(&out, false)
	result := make(chan error)
	go func() { result <- follow(s, ro, ro, p, func() []error { return nil }) }()

	l := &eventLog{at: time.Now(), op: "deploy-1"}
	send := func(es ...fleet.Event) {
		for _, e := range es {
			ro.events <- e
		}
	}
	send(fleet.OpStarted{EventBase: l.base(""), Kind: "deploy", Hosts: []string{"a", "b", "c"}},
		fleet.PhaseEvent{EventBase: l.base("a"), Phase: fleet.PhaseQueued},
		fleet.PhaseEvent{EventBase: l.base("a"), Phase: fleet.PhaseActivating},
		fleet.PhaseEvent{EventBase: l.base("b"), Phase: fleet.PhaseCopying})
	sigs <- syscall.SIGINT
	<-ro.aborts
	send(fleet.AbortRequested{EventBase: l.base("")})
	sigs <- syscall.SIGINT
	<-ro.aborts
	send(fleet.AbortRequested{EventBase: l.base(""), Second: true},
		fleet.HostOutcome{EventBase: l.base("a"), Outcome: fleet.OutcomeUnknown, Cause: "still activating: check with nixdeck status --on a"},
		fleet.DoneEvent{EventBase: l.base("a"), Err: errors.New("interrupted")},
		fleet.HostOutcome{EventBase: l.base("b"), Outcome: fleet.OutcomeSkipped, Cause: "interrupted during copy; unchanged"},
		fleet.DoneEvent{EventBase: l.base("b"), Err: errors.New("interrupted")},
		fleet.HostOutcome{EventBase: l.base("c"), Outcome: fleet.OutcomeSkipped, Cause: "not started: aborted"},
		fleet.DoneEvent{EventBase: l.base("c"), Err: errors.New("interrupted")},
		fleet.OpFinished{EventBase: l.base("")})
	close(ro.events)
	err := <-result
	if !restored {
		t.Error("the signals were not given back")
	}
	code, _ := p.sum.exit()
	if code != 130 {
		t.Errorf("exit code %d, want 130 (%v)", code, err)
	}
	for _, want := range []string{
		"* aborting: no new host starts; waiting for a, b (in flight); press Ctrl-C again to stop waiting\n",
		"* stopped waiting for a, b: they still complete or roll back on their own; check with: nixdeck status --on a,b\n",
		"a     unknown  -           -         still activating: check with nixdeck status --on a\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}

// summaryOf reads events into a rollout summary.
func summaryOf(events ...fleet.Event) *rolloutSummary {
	s := newRolloutSummary()
	for _, e := range events {
		s.event(e)
	}
	return s
}

// The exit codes: 0 every host done or unchanged, 1 anything else, 3 a
// halt, 130 a signal; a record not kept fails a rollout that went well.
func TestRolloutExitCodes(t *testing.T) {
	l := &eventLog{at: time.Now(), op: "deploy-1"}
	start := fleet.OpStarted{EventBase: l.base(""), Kind: "deploy", Hosts: []string{"a", "b"}}
	out := func(host string, o fleet.Outcome) []fleet.Event {
		return []fleet.Event{fleet.HostOutcome{EventBase: l.base(host), Outcome: o}, fleet.DoneEvent{EventBase: l.base(host)}}
	}
	concat := func(parts ...[]fleet.Event) []fleet.Event {
		var all []fleet.Event
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	begin := []fleet.Event{start}
	for _, tc := range []struct {
		name   string
		events []fleet.Event
		setup  func(*rolloutSummary)
		code   int
		msg    string
	}{
		{"done and unchanged", concat(begin, out("a", fleet.OutcomeDone), out("b", fleet.OutcomeUnchanged)), nil, 0, ""},
		{"one failed", concat(begin, out("a", fleet.OutcomeDone), out("b", fleet.OutcomeFailed)), nil, 1, "deploy: 1 of 2 hosts not done (1 failed)"},
		{"rolled back", concat(begin, out("a", fleet.OutcomeRolledBack), out("b", fleet.OutcomeUnreachable)), nil, 1,
			"deploy: 2 of 2 hosts not done (1 rolled back, 1 unreachable)"},
		{"halted", concat(begin, out("a", fleet.OutcomeFailed), []fleet.Event{fleet.RolloutHalted{EventBase: l.base(""), Reason: "canary a failed"}},
			out("b", fleet.OutcomeSkipped)), nil, 3, "deploy: halted: canary a failed; 2 of 2 hosts not done (1 failed, 1 skipped)"},
		{"no outcome", concat(begin, out("a", fleet.OutcomeDone), []fleet.Event{fleet.DoneEvent{EventBase: l.base("b"), Err: errors.New("b: lost")}}), nil, 1,
			"deploy: 1 of 2 hosts not done (1 unknown)"},
		{"plan refused", concat(begin, out("a", fleet.OutcomeSkipped), out("b", fleet.OutcomeSkipped),
			[]fleet.Event{fleet.OpFinished{EventBase: l.base(""), Err: errors.New("host a is selected twice")}}), nil, 1,
			"deploy: 2 of 2 hosts not done (2 skipped); host a is selected twice"},
		{"record lost", concat(begin, out("a", fleet.OutcomeDone), out("b", fleet.OutcomeDone)),
			func(s *rolloutSummary) { s.lost = []error{errors.New("history: disk full")} }, 1,
			"deploy: 1 history records or logs not kept (see above)"},
		{"interrupted", concat(begin, out("a", fleet.OutcomeDone), out("b", fleet.OutcomeSkipped)),
			func(s *rolloutSummary) { s.signal = syscall.SIGINT }, 130, "deploy: 1 of 2 hosts not done (1 skipped)"},
		{"terminated", concat(begin, out("a", fleet.OutcomeDone), out("b", fleet.OutcomeDone)),
			func(s *rolloutSummary) { s.signal = syscall.SIGTERM }, 143, ""},
	} {
		s := summaryOf(tc.events...)
		if tc.setup != nil {
			tc.setup(s)
		}
		code, err := s.exit()
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if code != tc.code || msg != tc.msg {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
}

// A rollout takes the signals over: they reach it instead of cancelling
// the command's context, and still count for the exit code.
func TestDivertSignals(t *testing.T) {
	intr := onInterrupt()
	defer intr.stop()
	sigs, restore := intr.divert()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if s := <-sigs; s != syscall.SIGINT {
		t.Errorf("got %v", s)
	}
	if intr.ctx.Err() != nil {
		t.Error("a diverted signal cancelled the context")
	}
	if s, ok := intr.received(); !ok || s != syscall.SIGINT {
		t.Errorf("received %v %v", s, ok)
	}
	restore()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-intr.ctx.Done() // given back: the next signal cancels
}
