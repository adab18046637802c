package fleet_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
)

// TestRolloutTwentyHostsOnLab switches a 20-host lab to release b, all
// hosts at once, recording to a history as the CLI does; then redeploys
// it unchanged; then rolls out with one host unreachable.
func TestRolloutTwentyHostsOnLab(t *testing.T) {
	start := time.Now()
	o := startOpsLab(t, 20)
	t.Logf("20-host lab up in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var hosts []string
	for _, h := range o.lab.Hosts {
		hosts = append(hosts, h.Name)
	}
	stateDir := t.TempDir()
	hist, err := fleet.OpenHistory(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hist.Close() })
	// One wave of every host, all at once: no canary, parallel 20.
	allAtOnce := func(p *fleet.Plan) {
		p.Canary, p.Policy.Parallel, p.Policy.Soak, p.Recorder = nil, len(hosts), time.Second, hist
	}
	b := o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, hosts...)

	t.Run("20 hosts switched in parallel", func(t *testing.T) {
		start := time.Now()
		run := o.deploy(t, ctx, b, allAtOnce, hosts...)
		t.Logf("20 hosts switched in %s", time.Since(start).Round(time.Millisecond))
		if want := "wave 1 " + strings.Join(hosts, ",") + "|healthy 1"; strings.Join(run.ops, "|") != want {
			t.Errorf("operation events %q, want %q", run.ops, want)
		}
		// All at once: every host was connecting before any activation
		// had ended.
		if run.connectingBeforeActivated != len(hosts) {
			t.Errorf("%d hosts had started when the first activation ended, want %d", run.connectingBeforeActivated, len(hosts))
		}
		for _, h := range hosts {
			if got := run.outcomes[h]; got.Outcome != fleet.OutcomeDone || got.ToSystem != b[h] || got.FromGen != 1 || got.ToGen != 2 {
				t.Errorf("%s: %+v", h, got)
			}
		}
		for _, s := range labStatus(t, o.lab) {
			if s.Current != b[s.Name] || s.Profile != 2 {
				t.Errorf("%s runs %s at generation %d, want %s at 2", s.Name, s.Current, s.Profile, b[s.Name])
			}
		}
		recs, err := fleet.ReadHistory(stateDir, fleet.HistoryFilter{})
		if err != nil || len(recs) != len(hosts) {
			t.Fatalf("history: %d records (%v), want %d", len(recs), err, len(hosts))
		}
		for _, rec := range recs {
			if rec.OpID != run.id || rec.Outcome != string(fleet.OutcomeDone) || rec.ToSystem != b[rec.Host] || rec.ToGen != 2 {
				t.Errorf("history record %+v", rec)
			}
			log, err := os.ReadFile(filepath.Join(stateDir, fleet.LogsDir, run.id, rec.Host+".log"))
			if err != nil || !bytes.Contains(log, []byte("[activate] activating the configuration...")) || !bytes.Contains(log, []byte("[activate] nixdeck: confirmed")) {
				t.Errorf("%s's log holds no activation output: %v\n%s", rec.Host, err, log)
			}
		}
	})

	t.Run("an unchanged redeploy copies nothing and activates nothing", func(t *testing.T) {
		run := o.deploy(t, ctx, b, allAtOnce, hosts...)
		for _, h := range hosts {
			// One command: the state read. No copy, no activation.
			if run.outcomes[h].Outcome != fleet.OutcomeUnchanged || len(run.commands[h]) != 1 || !strings.HasPrefix(run.commands[h][0], "sh: ") {
				t.Errorf("%s: %s, commands %q", h, run.outcome(h), run.commands[h])
			}
			if len(run.logs[h]) != 0 {
				t.Errorf("%s logged %q", h, run.logs[h])
			}
		}
		for _, s := range labStatus(t, o.lab) {
			if s.Current != b[s.Name] || s.Profile != 2 || len(s.Generations) != 2 {
				t.Errorf("%s runs %s at generation %d of %v", s.Name, s.Current, s.Profile, s.Generations)
			}
		}
	})

	t.Run("an unreachable host is reported while the others proceed", func(t *testing.T) {
		// Canary first, then waves of 50%: the unreachable host is in
		// the second wave and the third still goes.
		some := []string{"canary", "web01", "db01", "web02", "db02"}
		const down = "web01"
		next := o.change(t, ctx, "", lab.ChangeOptions{Bump: true}, some...)
		if err := o.lab.SetHost(down, false); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := o.lab.SetHost(down, true); err != nil {
				t.Error(err)
			}
		})
		// A new process: the pool's connection to the host, which
		// outlives its sshd listener, must not be used.
		run := o.fresh(t).deploy(t, ctx, next, func(p *fleet.Plan) { p.Policy.Soak = 0 }, some...)
		if want := "wave 1 canary|healthy 1|wave 2 web01,db01|healthy 2|wave 3 web02,db02|healthy 3"; strings.Join(run.ops, "|") != want {
			t.Errorf("operation events %q, want %q", run.ops, want)
		}
		if got := run.outcomes[down]; got.Outcome != fleet.OutcomeUnreachable || !strings.Contains(got.Cause, "dial: connection refused") || len(run.commands[down]) != 0 {
			t.Errorf("%s: %s, commands %q", down, run.outcome(down), run.commands[down])
		}
		status := map[string]lab.HostStatus{}
		for _, s := range labStatus(t, o.lab) {
			status[s.Name] = s
		}
		if s := status[down]; s.Current != b[down] || s.Profile != 2 {
			t.Errorf("%s changed: runs %s at generation %d", down, s.Current, s.Profile)
		}
		for _, h := range some {
			if h == down {
				continue
			}
			if got := run.outcomes[h]; got.Outcome != fleet.OutcomeDone || status[h].Current != next[h] {
				t.Errorf("%s: %s, runs %s", h, run.outcome(h), status[h].Current)
			}
		}
	})
}

// labStatus reads every lab host's state from its files, without a login.
func labStatus(t *testing.T, l *lab.Lab) []lab.HostStatus {
	t.Helper()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st
}
