package fleet_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/nix"
)

// rolloutRun is what a rollout reported: every host's outcome, the
// operation-level events, and the commands run on each host.
type rolloutRun struct {
	id       string
	outcomes map[string]fleet.HostOutcome
	ops      []string
	commands map[string][]string
	logs     map[string][]string
	// connectingBeforeActivated counts the hosts that were connecting
	// before any host's activation ended: all of them when they start
	// at once, one when they go one by one. (HostOutcomes come at the end
	// of a wave, too late to tell.)
	connectingBeforeActivated int
}

// deploy rolls systems out to hosts with the lab's deploy policy (edited
// by edit) and reads the rollout to its end.
func (o *opsLab) deploy(t *testing.T, ctx context.Context, systems map[string]string, edit func(p *fleet.Plan), hosts ...string) rolloutRun {
	t.Helper()
	return o.deployWatching(t, ctx, systems, edit, nil, hosts...)
}

// deployWatching is deploy with watch called with every event as it is
// read, to act while the rollout runs.
func (o *opsLab) deployWatching(t *testing.T, ctx context.Context, systems map[string]string, edit func(p *fleet.Plan),
	watch func(r *fleet.Rollout, e fleet.Event), hosts ...string) rolloutRun {
	t.Helper()
	p := fleet.Plan{Kind: fleet.PlanDeploy, Systems: systems, Policy: o.f.Deploy, Owner: "tester@lab"}
	for _, h := range hosts {
		p.Nodes = append(p.Nodes, o.node(t, h))
	}
	p.Canary = o.f.CanaryNodes()
	if edit != nil {
		edit(&p)
	}
	return o.rollout(t, ctx, p, watch)
}

// rollout runs p to its end, passing each event to watch (when set) as
// it is read.
func (o *opsLab) rollout(t *testing.T, ctx context.Context, p fleet.Plan, watch func(r *fleet.Rollout, e fleet.Event)) rolloutRun {
	t.Helper()
	start := o.eng.Rollout
	if o.after != nil {
		start = func(ctx context.Context, p fleet.Plan) *fleet.Rollout { return o.eng.RolloutWithClock(ctx, p, o.after) }
	}
	r := start(ctx, p)
	run := rolloutRun{id: r.ID(), outcomes: map[string]fleet.HostOutcome{}, commands: map[string][]string{}, logs: map[string][]string{}}
	connecting := map[string]bool{}
	for e := range r.Events().All() {
		if watch != nil {
			watch(r, e)
		}
		switch e := e.(type) {
		case fleet.PhaseEvent:
			if e.Phase == fleet.PhaseConnecting {
				connecting[e.Host()] = true
			}
		case fleet.ActivationEvent:
			if run.connectingBeforeActivated == 0 {
				run.connectingBeforeActivated = len(connecting)
			}
		case fleet.HostOutcome:
			run.outcomes[e.Host()] = e
		case fleet.CommandEvent:
			run.commands[e.Host()] = append(run.commands[e.Host()], commandName(e.Argv))
		case fleet.LogEvent:
			run.logs[e.Host()] = append(run.logs[e.Host()], e.Source+": "+e.Line)
		case fleet.WaveStarted:
			run.ops = append(run.ops, fmt.Sprintf("wave %d %s", e.Wave, strings.Join(e.Hosts, ",")))
		case fleet.WaveHealthy:
			run.ops = append(run.ops, fmt.Sprintf("healthy %d", e.Wave))
		case fleet.RolloutHalted:
			run.ops = append(run.ops, "halted "+e.Reason)
		case fleet.OpFinished:
			if e.Err != nil {
				t.Fatalf("rollout refused: %v", e.Err)
			}
		}
	}
	return run
}

// fresh is o with a connection pool and an Engine of its own, as a new
// nixdeck process has: no connection made before carries over.
func (o *opsLab) fresh(t *testing.T) *opsLab {
	t.Helper()
	n := *o
	n.pool = newPool()
	n.conn = fleet.PoolConnector{Pool: n.pool}
	n.eng = fleet.Open(o.f, fleet.Options{Connector: n.conn})
	t.Cleanup(func() {
		n.eng.Close()
		n.pool.Close()
	})
	return &n
}

// soakGate makes the soaks of o's rollouts last until open is called
// instead of soak (health retries keep their own times), so that a test
// acting during a soak knows the soak has not ended; the gate stays open
// for the rollouts after it. soak must differ from every retry wait.
func (o *opsLab) soakGate(t *testing.T, soak time.Duration) (open func()) {
	gate := make(chan time.Time)
	var once sync.Once
	o.after = func(d time.Duration) <-chan time.Time {
		if d == soak {
			return gate
		}
		return time.After(d)
	}
	open = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(func() {
		open()
		o.after = nil
	})
	return open
}

// holdBreakSSH holds host's breakssh activations once its sshd listener
// is gone (lab.HoldBreakSSH) until release is called, or the test ends;
// then the host's sshd is brought back whatever happened, for the
// subtests after it.
func (o *opsLab) holdBreakSSH(t *testing.T, host string) (release func()) {
	t.Helper()
	release, err := o.lab.HoldBreakSSH(host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	t.Cleanup(func() {
		if err := o.lab.SetHost(host, true); err != nil {
			t.Error(err)
		}
	})
	return release
}

// commandName names a command by its program, or by the first line of
// the script nixdeck runs with sh -c.
func commandName(argv []string) string {
	if len(argv) > 2 && argv[0] == "sh" && argv[1] == "-c" {
		first, _, _ := strings.Cut(strings.TrimSpace(argv[2]), "\n")
		return "sh: " + first
	}
	return argv[0]
}

// outcome renders a host's outcome and cause.
func (r rolloutRun) outcome(host string) string {
	o := r.outcomes[host]
	return string(o.Outcome) + ": " + o.Cause
}

// leftClean checks that a host holds no lock and no GC root of nixdeck's.
func (o *opsLab) leftClean(t *testing.T, ctx context.Context, host string) {
	t.Helper()
	if holder := o.lockHolder(t, ctx, host); holder != "" {
		t.Errorf("%s: lock still held by %s", host, holder)
	}
	out, err := o.lab.Exec(ctx, host, []string{"sh", "-c", "ls -A " + nix.GCRootDir + " 2>/dev/null"}, nil)
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("%s: GC roots left: %q %v", host, out, err)
	}
}

// lockHolder reads the owner of the host's lock, "" when it is free.
func (o *opsLab) lockHolder(t *testing.T, ctx context.Context, host string) string {
	t.Helper()
	out, err := o.lab.Exec(ctx, host, []string{"sh", "-c", "if [ -d " + nix.NixdeckLockPath + " ]; then cat " + nix.NixdeckLockPath + "/owner; fi"}, nil)
	if err != nil {
		t.Fatalf("%s: read the lock: %v", host, err)
	}
	return strings.TrimSpace(string(out))
}
