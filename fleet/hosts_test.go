package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"nixdeck/fleet/remote"
	"nixdeck/nix"
)

// runnerFunc adapts a function to nix.Runner.
type runnerFunc func(ctx context.Context, c nix.Cmd) error

func (f runnerFunc) Run(ctx context.Context, c nix.Cmd) error { return f(ctx, c) }

// fakeConnector hands out one runner per node name, or that node's dial error.
type fakeConnector struct {
	runners map[string]nix.Runner
	errs    map[string]error
}

func (f fakeConnector) Runner(_ context.Context, n *Node) (nix.Runner, error) {
	if err := f.errs[n.Name]; err != nil {
		return nil, err
	}
	return f.runners[n.Name], nil
}

func (f fakeConnector) Fresh(ctx context.Context, n *Node) (nix.Runner, error) {
	return f.Runner(ctx, n)
}

func nodes(names ...string) []*Node {
	var ns []*Node
	for _, n := range names {
		ns = append(ns, &Node{Name: n, Host: n + ".example.org"})
	}
	return ns
}

// engine is an Engine over conn working on parallel hosts at a time,
// closed when the test ends.
func engine(t *testing.T, conn Connector, parallel int) *Engine {
	e := Open(&Fleet{Deploy: Deploy{Parallel: parallel}}, Options{Connector: conn})
	t.Cleanup(func() { e.Close() })
	return e
}

func TestRunHostsBoundsParallelismAndReportsEveryHost(t *testing.T) {
	var running, peak atomic.Int32
	// The first two hosts to run wait for each other, so two run at once
	// whatever the scheduling (a sleep here once let a loaded machine see
	// only one); the others run as slots come free. A limiter letting more
	// through shows as a peak above 2 when the extra runners overlap.
	both := make(chan struct{})
	var started atomic.Int32
	slow := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		if started.Add(1) == 2 {
			close(both)
		}
		defer running.Add(-1)
		select {
		case <-both:
			return nil
		case <-ctx.Done(): // only one ever ran: the peak check fails
			return ctx.Err()
		}
	})
	ns := nodes("a", "b", "c", "d", "e")
	refused := &remote.Error{Name: "d", Addr: "d.example.org:22", Op: "dial", Err: errors.New("connection refused")}
	conn := fakeConnector{runners: map[string]nix.Runner{"a": slow, "b": slow, "c": slow, "e": slow},
		errs: map[string]error{"d": refused}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events := engine(t, conn, 2).RunHosts(ctx, "test", ns, func(ctx context.Context, h *HostRun) error {
		h.Log("test")("hello from " + h.Node.Name)
		return h.Runner.Run(ctx, nix.Cmd{Argv: []string{"true"}})
	})
	seq := map[string][]string{}
	ops := map[string]bool{}
	var doneErr error
	for e := range events.All() {
		var s string
		switch e := e.(type) {
		case OpStarted:
			s = fmt.Sprintf("op:%s:%s", e.Kind, strings.Join(e.Hosts, ","))
		case OpFinished:
			s = fmt.Sprintf("finished:%v", e.Err)
		case PhaseEvent:
			s = string(e.Phase)
		case LogEvent:
			s = "log:" + e.Line
		case CommandStarted:
			s = "run:" + strings.Join(e.Argv, " ")
		case CommandEvent:
			s = fmt.Sprintf("exit:%d", e.Exit)
		case DoneEvent:
			s = fmt.Sprintf("done:%v", e.Err)
			if e.Host() == "d" {
				doneErr = e.Err
			}
		}
		if e.At().IsZero() {
			t.Errorf("event without time: %#v", e)
		}
		ops[e.Op()] = true
		seq[e.Host()] = append(seq[e.Host()], s)
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak parallelism %d, want 2", p)
	}
	want := map[string]string{
		"":  "op:test:a,b,c,d,e|finished:<nil>",
		"a": "queued|connecting|log:hello from a|run:true|exit:0|done|done:<nil>",
		"d": "queued|connecting|failed|done:d (d.example.org:22): dial: connection refused",
	}
	for h, w := range want {
		if got := strings.Join(seq[h], "|"); got != w {
			t.Errorf("host %q events %q, want %q", h, got, w)
		}
	}
	if len(seq) != 6 {
		t.Errorf("events for %d hosts and the operation, want 5 and 1", len(seq))
	}
	if len(ops) != 1 || ops[""] {
		t.Errorf("operation ids %v, want one", ops)
	}
	var he *HostError
	if !errors.As(doneErr, &he) || he.Host != "d" || !errors.Is(doneErr, refused) {
		t.Errorf("d: %#v, want a *HostError for d wrapping the dial error", doneErr)
	}
}

func TestReadStates(t *testing.T) {
	state := "find=1\x00hostname=web1\x00current=/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05\x00" +
		"profile_link=system-3-link\x00switch_lock=free\x00nixdeck_lock=free\x00uptime=61.2\x00end=1\x00"
	ok := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		if len(c.Argv) != 3 || c.Argv[0] != "sh" || c.Privileged {
			return fmt.Errorf("unexpected %v", c.Argv)
		}
		_, err := io.WriteString(c.Stdout, state)
		return err
	})
	broken := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		return fmt.Errorf("db1 (10.0.0.2:22): %w", nix.ErrConnectionLost)
	})
	ns := nodes("web1", "db1", "cache")
	conn := fakeConnector{runners: map[string]nix.Runner{"web1": ok, "db1": broken},
		errs: map[string]error{"cache": errors.New("cache (cache.example.org:22): dial: no route to host")}}
	got := CollectStates(ns, engine(t, conn, 10).ReadStates(context.Background(), ns).All())
	if got[0].Err != nil || got[0].State == nil || got[0].State.ProfileGeneration != 3 || got[0].State.Uptime != 61*time.Second {
		t.Errorf("web1: %+v", got[0])
	}
	if got[1].State != nil || !errors.Is(got[1].Err, nix.ErrConnectionLost) || !strings.HasPrefix(got[1].Err.Error(), "db1") {
		t.Errorf("db1: %+v", got[1])
	}
	if got[2].Node.Name != "cache" || got[2].Err == nil || !strings.Contains(got[2].Err.Error(), "no route to host") {
		t.Errorf("cache: %+v", got[2])
	}
}

// A stuck host is given up after stateTimeout and the hosts queued behind
// it are still read: no deadline on the whole run starves them.
func TestReadStatesBoundsEachHost(t *testing.T) {
	defer func(d time.Duration) { stateTimeout = d }(stateTimeout)
	stateTimeout = 100 * time.Millisecond
	ok := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		_, err := io.WriteString(c.Stdout, "find=1\x00profile_link=system-1-link\x00end=1\x00")
		return err
	})
	stuck := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		<-ctx.Done()
		return fmt.Errorf("web1: sh -c '...': %w", ctx.Err())
	})
	ns := nodes("web1", "web2", "web3")
	conn := fakeConnector{runners: map[string]nix.Runner{"web1": stuck, "web2": ok, "web3": ok}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := CollectStates(ns, engine(t, conn, 1).ReadStates(ctx, ns).All())
	if err := got[0].Err; err == nil || !strings.Contains(err.Error(), "web1: read host state: no answer within 100ms") {
		t.Errorf("stuck web1: %v", err)
	}
	for _, s := range got[1:] {
		if s.Err != nil || s.State == nil || s.State.ProfileGeneration != 1 {
			t.Errorf("%s, queued behind the stuck host: %+v", s.Node.Name, s)
		}
	}
}

func TestRunHostsCancelledStillEndsEveryHost(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	block := runnerFunc(func(ctx context.Context, c nix.Cmd) error { <-ctx.Done(); return ctx.Err() })
	ns := nodes("a", "b", "c")
	conn := fakeConnector{runners: map[string]nix.Runner{"a": block, "b": block, "c": block}}
	started := make(chan struct{})
	events := engine(t, conn, 1).RunHosts(ctx, "test", ns, func(ctx context.Context, h *HostRun) error {
		close(started) // one host at a time: only the first gets here
		return h.Runner.Run(ctx, nix.Cmd{Argv: []string{"sleep"}})
	})
	go func() { <-started; cancel() }()
	done := 0
	for e := range events.All() {
		if d, ok := e.(DoneEvent); ok {
			done++
			if !errors.Is(d.Err, context.Canceled) {
				t.Errorf("%s: %v, want context.Canceled", d.Host(), d.Err)
			}
		}
	}
	if done != 3 {
		t.Errorf("%d hosts ended, want 3", done)
	}
}

// TestRunHostsInterrupted cancels an operation with a host done, one
// working and one queued: the finished host keeps its failure, the other
// two are interrupted (DoneEvent.Interrupted, PhaseInterrupted), not failed.
func TestRunHostsInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	bad := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		return &nix.ExitError{Argv: c.Argv, Code: 1}
	})
	block := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		close(started)
		<-ctx.Done()
		return fmt.Errorf("web1: sleep: %w", ctx.Err())
	})
	ns := nodes("bad", "web1", "web2")
	conn := fakeConnector{runners: map[string]nix.Runner{"bad": bad, "web1": block}}
	events := engine(t, conn, 1).RunHosts(ctx, "test", ns, func(ctx context.Context, h *HostRun) error {
		return h.Runner.Run(ctx, nix.Cmd{Argv: []string{"sleep"}})
	})
	go func() { <-started; cancel() }()
	last := map[string]Phase{}
	done := map[string]DoneEvent{}
	for e := range events.All() {
		switch e := e.(type) {
		case PhaseEvent:
			last[e.Host()] = e.Phase
		case DoneEvent:
			done[e.Host()] = e
		}
	}
	if d := done["bad"]; d.Err == nil || d.Interrupted() || last["bad"] != PhaseFailed {
		t.Errorf("bad: %v, interrupted %v, phase %q; want failed", d.Err, d.Interrupted(), last["bad"])
	}
	for _, n := range []string{"web1", "web2"} {
		d := done[n]
		if !d.Interrupted() || !errors.Is(d.Err, context.Canceled) || last[n] != PhaseInterrupted {
			t.Errorf("%s: %v, interrupted %v, phase %q; want interrupted", n, d.Err, d.Interrupted(), last[n])
		}
		if d.Err != nil && d.Err.Error() != n+": interrupted" {
			t.Errorf("%s: message %q, want %q", n, d.Err, n+": interrupted")
		}
	}
}

// An operation that runs out of time fails its hosts: a deadline is not
// the operator's interruption.
func TestRunHostsDeadlineIsFailure(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	fn := func(ctx context.Context, h *HostRun) error { return ctx.Err() }
	for e := range engine(t, fakeConnector{}, 1).RunHosts(ctx, "test", nodes("web1"), fn).All() {
		if d, ok := e.(DoneEvent); ok && (d.Interrupted() || !errors.Is(d.Err, context.DeadlineExceeded)) {
			t.Errorf("%v (interrupted %v), want a failure with context.DeadlineExceeded", d.Err, d.Interrupted())
		}
	}
}
