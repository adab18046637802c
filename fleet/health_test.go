package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
)

// A failing check is retried until it passes; the first failure and the
// pass are logged.
func TestRolloutHealthRetriesUntilHealthy(t *testing.T) {
	f := newFakeSteps(t, "a")
	f.hosts["a"].checks = []error{errors.New("status 503"), errors.New("status 502"), nil}
	pol := policy(1, 0, OnFailureHalt)
	pol.Health = []HealthCheck{{Name: "web", HTTP: "http://{host}/", Expect: 200, Timeout: time.Hour}}
	var logs []string
	events := make(chan Event, 1000)
	go func() {
		defer close(events)
		for e := range startRollout(t, f, nil, plan(pol, nil, "a")).Events().All() {
			if l, ok := e.(LogEvent); ok && l.Source == "health" {
				logs = append(logs, l.Line)
			}
			events <- e
		}
	}()
	got, _ := outcomes(t, events)
	if got["a"].Outcome != OutcomeDone || f.hosts["a"].checked != 3 {
		t.Errorf("a: %s after %d checks", outcomeOf(got["a"]), f.hosts["a"].checked)
	}
	want := []string{"check web failing, retrying for up to 1h0m0s: status 503", "check web passed (attempt 3)"}
	if !slices.Equal(logs, want) {
		t.Errorf("health log %q, want %q", logs, want)
	}
}

// A check that does not pass within its timeout fails the host, which
// stays changed: rollback-failed takes it back.
func TestRolloutHealthTimeout(t *testing.T) {
	f := newFakeSteps(t, "a")
	f.hosts["a"].checkHold = true
	pol := policy(1, 0, OnFailureRollbackFailed)
	pol.Health = []HealthCheck{{Name: "sys", Run: "systemctl is-system-running", Timeout: 10 * time.Millisecond}}
	got, _ := outcomes(t, feed(startRollout(t, f, nil, plan(pol, nil, "a")).Events()))
	want := "rolled back: health: check sys: not healthy within 10ms: context deadline exceeded; rolled back to generation 1 (rollback-failed)"
	if s := outcomeOf(got["a"]); s != want || f.hosts["a"].current != oldSystem("a") {
		t.Errorf("a: %s, runs %s\nwant %s", s, f.hosts["a"].current, want)
	}
}

// boot and dry-activate change nothing live: no checks, no soak.
func TestRolloutNoHealthWhenNothingLive(t *testing.T) {
	for _, action := range []nix.Action{nix.Boot, nix.DryActivate} {
		f := newFakeSteps(t, "a", "b")
		pol := policy(1, 0, OnFailureHalt)
		pol.Health, pol.Soak = []HealthCheck{{Name: "up", Run: "false"}}, time.Hour
		p := plan(pol, []string{"a"}, "a", "b")
		p.Action = action
		got, _ := outcomes(t, feed(startRollout(t, f, newFakeClock(time.Hour), p).Events()))
		for _, h := range []string{"a", "b"} {
			if got[h].Outcome != OutcomeDone || f.hosts[h].checked != 0 {
				t.Errorf("%s %s: %s, %d checks", action, h, outcomeOf(got[h]), f.hosts[h].checked)
			}
		}
		if action == nix.Boot && (f.hosts["a"].profile != 2 || f.hosts["a"].current != oldSystem("a")) {
			t.Errorf("boot: profile %d, running %s", f.hosts["a"].profile, f.hosts["a"].current)
		}
	}
}

// A canary healthy at first and unhealthy at the end of the soak halts
// the rollout; nothing else is touched meanwhile.
func TestRolloutSoakCatchesAnUnhealthyCanary(t *testing.T) {
	f := newFakeSteps(t, "canary", "web")
	f.hosts["canary"].checks = []error{nil, errors.New("exit status 1: degraded")}
	pol := policy(10, 3, OnFailureHalt)
	pol.Health, pol.Soak = []HealthCheck{{Name: "sys", Run: "systemctl is-system-running"}}, time.Minute
	c := newFakeClock(time.Minute)
	r := startRollout(t, f, c, plan(pol, []string{"canary"}, "canary", "web"))
	events := feed(r.Events())
	<-c.soakStart
	if s := f.steps("web"); len(s) != 0 {
		t.Errorf("web touched during the canary's soak: %q", s)
	}
	c.soakEnd <- time.Now()
	got, ops := outcomes(t, events)
	reason := "canary canary failed: health: unhealthy after the 1m0s soak: check sys: exit status 1: degraded"
	if want := []string{"wave 1 canary=true canary", "halted " + reason}; !slices.Equal(ops, want) {
		t.Errorf("operation events %q, want %q", ops, want)
	}
	if got["web"].Outcome != OutcomeSkipped || len(f.steps("web")) != 0 {
		t.Errorf("web: %s, steps %q", outcomeOf(got["web"]), f.steps("web"))
	}
}

// Waves that stay healthy through their soak let the next one go; an
// Abort ends a soak at once, without checking again.
func TestRolloutSoakThenNextWave(t *testing.T) {
	f := newFakeSteps(t, "canary", "a", "b")
	pol := policy(10, 0, OnFailureHalt)
	pol.Batch = Batch{Count: 1}
	pol.Health, pol.Soak = []HealthCheck{{Name: "sys", Run: "true"}}, time.Minute
	c := newFakeClock(time.Minute)
	r := startRollout(t, f, c, plan(pol, []string{"canary"}, "canary", "a", "b"))
	events := feed(r.Events())
	<-c.soakStart
	c.soakEnd <- time.Now()
	<-c.soakStart
	r.Abort()
	got, ops := outcomes(t, events)
	want := []string{"wave 1 canary=true canary", "healthy 1", "wave 2 canary=false a", "abort second=false"}
	if !slices.Equal(ops, want) {
		t.Errorf("operation events %q, want %q", ops, want)
	}
	if f.hosts["canary"].checked != 2 || f.hosts["a"].checked != 1 {
		t.Errorf("checks: canary %d, a %d", f.hosts["canary"].checked, f.hosts["a"].checked)
	}
	if got["a"].Outcome != OutcomeDone || got["b"].Outcome != OutcomeSkipped {
		t.Errorf("a: %s, b: %s", outcomeOf(got["a"]), outcomeOf(got["b"]))
	}
}

// A `run` check is healthy on exit 0; a failure says how it exited and
// the last line it printed.
func TestRunCheck(t *testing.T) {
	host := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		if !slices.Equal(c.Argv[:2], []string{"sh", "-c"}) || c.Privileged || c.MaxOutput != maxCheckOutput {
			return fmt.Errorf("unexpected %q privileged=%v", c.Argv, c.Privileged)
		}
		if c.Argv[2] == "true" {
			return nil
		}
		io.WriteString(c.Stdout, "starting\n")
		io.WriteString(c.Stderr, "degraded\n\n")
		return &nix.ExitError{Argv: c.Argv, Code: 1}
	})
	if err := runCheck(context.Background(), host, HealthCheck{Run: "true"}); err != nil {
		t.Errorf("healthy: %v", err)
	}
	err := runCheck(context.Background(), host, HealthCheck{Run: "systemctl is-system-running"})
	if err == nil || err.Error() != "exit status 1: degraded" {
		t.Errorf("unhealthy: %v", err)
	}
	lost := fmt.Errorf("web1: %w", nix.ErrConnectionLost)
	if err := runCheck(context.Background(), runnerFunc(func(context.Context, nix.Cmd) error { return lost }), HealthCheck{Run: "true"}); err != lost {
		t.Errorf("lost connection: %v", err)
	}
}

// An `http` check wants its status from the first answer: a redirect is
// not followed, and a long body is not read to its end.
func TestHTTPCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("ok"))
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/sick":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/endless":
			for ctx := r.Context(); ctx.Err() == nil; {
				if _, err := w.Write(make([]byte, 32<<10)); err != nil {
					return
				}
			}
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		path   string
		expect int
		want   string
	}{
		{"/ok", 200, ""},
		{"/moved", 302, ""},
		{"/moved", 200, "status 302, want 200"},
		{"/sick", 200, "status 503, want 200"},
		{"/endless", 200, ""},
	} {
		err := httpCheck(ctx, srv.URL+tc.path, tc.expect)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.HasSuffix(err.Error(), tc.want)) {
			t.Errorf("GET %s expecting %d: %v, want %q", tc.path, tc.expect, err, tc.want)
		}
	}
}

// A wave whose hosts end after an Abort does not soak: no wave follows
// it, and "soaking" printed after the abort would say one might.
func TestRolloutNoSoakAfterAbort(t *testing.T) {
	f := newFakeSteps(t, "a", "b")
	hold := make(chan struct{})
	f.hosts["a"].hold = hold
	pol := policy(1, 0, OnFailureHalt)
	pol.Health, pol.Soak = []HealthCheck{{Name: "sys", Run: "true"}}, time.Minute
	c := newFakeClock(time.Minute)
	r := startRollout(t, f, c, plan(pol, nil, "a", "b"))
	events := feed(r.Events())
	<-f.entered
	r.Abort()
	close(hold)
	seen := make(chan Event, 1000)
	for e := range events {
		if p, ok := e.(PhaseEvent); ok && p.Phase == PhaseSoaking {
			t.Errorf("%s soaks after the abort", p.Host())
		}
		seen <- e
	}
	close(seen)
	got, _ := outcomes(t, seen)
	if got["a"].Outcome != OutcomeDone || got["b"].Outcome != OutcomeSkipped || len(c.soakStart) != 0 {
		t.Errorf("a: %s, b: %s, %d soaks", outcomeOf(got["a"]), outcomeOf(got["b"]), len(c.soakStart))
	}
}
