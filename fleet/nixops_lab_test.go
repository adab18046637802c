package fleet_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/lab"
	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestNixOpsOnLab is the acceptance run of issue 4 on a 3-host lab: build
// a release, copy only what is missing, the four actions, the exit codes,
// a hang, a lock-out survived by reconnecting, rollback, reboot-needed and
// status with a host down. The lab is mixed (issue 13): canary and web01
// run the machine's Nix 2.8 and OpenSSH 9.2, db01 Nix 2.26 and OpenSSH 10.
func TestNixOpsOnLab(t *testing.T) {
	o := startMixedOpsLab(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	hosts := []string{"canary", "web01", "db01"}
	gen1 := map[string]*nix.HostState{}
	for _, h := range hosts {
		gen1[h] = o.state(t, ctx, h)
		if gen1[h].ProfileGeneration != 1 || gen1[h].Current == "" || gen1[h].Current != gen1[h].Booted {
			t.Fatalf("%s starts at %+v, want generation 1 running and booted", h, gen1[h])
		}
	}

	b := o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, hosts...)
	t.Run("copy sends exactly the missing paths, then nothing", func(t *testing.T) {
		want := map[string][]string{}
		for _, h := range hosts {
			closure, err := nix.Requisites(ctx, nix.LocalRunner{}, []string{b[h]})
			if err != nil {
				t.Fatal(err)
			}
			want[h] = missingFrom(closure, o.hostClosure(t, ctx, h))
			if len(want[h]) == 0 || len(want[h]) == len(closure) {
				t.Fatalf("%s: release b shares nothing or everything with a (%d of %d new)", h, len(want[h]), len(closure))
			}
		}
		first := o.copyAll(t, ctx, b)
		for _, h := range hosts {
			if !slices.Equal(first[h].Missing, want[h]) || first[h].Bytes == 0 {
				t.Errorf("%s: sent %d paths (%d bytes), want the %d it lacked", h, len(first[h].Missing), first[h].Bytes, len(want[h]))
			}
		}
		again := o.copyAll(t, ctx, b)
		for _, h := range hosts {
			if len(again[h].Missing) != 0 || again[h].Bytes != 0 {
				t.Errorf("%s: second copy sent %d paths", h, len(again[h].Missing))
			}
		}
	})

	t.Run("actions do what NixOS does", func(t *testing.T) {
		res, logs, err := o.activate(t, ctx, "canary", nix.ActivateRequest{Action: nix.DryActivate, Path: b["canary"]})
		s := o.state(t, ctx, "canary")
		if err != nil || res.Outcome != nix.OutcomeDone || !strings.Contains(strings.Join(logs, "\n"), "would activate") {
			t.Errorf("dry-activate: %+v %v %q", res, err, logs)
		}
		if s.Current != gen1["canary"].Current || s.ProfileGeneration != 1 || len(s.Generations) != 1 {
			t.Errorf("dry-activate changed the host: %+v", s)
		}

		res, _, err = o.activate(t, ctx, "canary", nix.ActivateRequest{Action: nix.Test, Path: b["canary"]})
		s = o.state(t, ctx, "canary")
		if err != nil || res.Outcome != nix.OutcomeDone || s.Current != b["canary"] || s.Profile != gen1["canary"].Profile || len(s.Generations) != 1 {
			t.Errorf("test: %+v %v; state current %s profile %s, %d generations", res, err, s.Current, s.Profile, len(s.Generations))
		}

		res, _, err = o.activate(t, ctx, "web01", nix.ActivateRequest{Action: nix.Boot, Path: b["web01"]})
		s = o.state(t, ctx, "web01")
		if err != nil || res.Outcome != nix.OutcomeDone || s.Current != gen1["web01"].Current || s.Profile != b["web01"] || s.ProfileGeneration != 2 {
			t.Errorf("boot: %+v %v; state %+v", res, err, s)
		}

		res, _, err = o.activate(t, ctx, "db01", nix.ActivateRequest{Action: nix.Switch, Path: b["db01"]})
		s = o.state(t, ctx, "db01")
		if err != nil || res.Outcome != nix.OutcomeDone || s.Current != b["db01"] || s.Profile != b["db01"] || s.ProfileGeneration != 2 || s.Booted != gen1["db01"].Booted {
			t.Errorf("switch: %+v %v; state %+v", res, err, s)
		}
	})

	t.Run("exit codes 2 and 4 and a hang are classified", func(t *testing.T) {
		for _, tc := range []struct {
			fault   string
			timeout time.Duration
			want    nix.Outcome
		}{{"fail", 0, nix.OutcomeActivationFailed}, {"units", 0, nix.OutcomeUnitsFailed}, {"hang", 15 * time.Second, nix.OutcomeTimedOut}} {
			sys := o.change(t, ctx, "canary", lab.ChangeOptions{Fault: tc.fault}, "canary")
			o.copyAll(t, ctx, sys)
			res, logs, err := o.activate(t, ctx, "canary", nix.ActivateRequest{Action: nix.Switch, Path: sys["canary"], Timeout: tc.timeout})
			if err != nil || res.Outcome != tc.want {
				t.Errorf("fault %s: %+v (%s), %v; want %s\n%s", tc.fault, res, res.Outcome, err, tc.want, strings.Join(logs, "\n"))
			}
			if s := o.state(t, ctx, "canary"); s.SwitchLock.Held || (tc.fault == "fail" && s.Current != sys["canary"]) {
				t.Errorf("fault %s: after the activation: lock %s, current %s", tc.fault, s.SwitchLock, s.Current)
			}
		}
	})

	t.Run("a refused switch leaves the profile where it was", func(t *testing.T) {
		before := o.state(t, ctx, "canary")
		sys := o.change(t, ctx, "canary", lab.ChangeOptions{Fault: "none", Bump: true}, "canary")
		o.copyAll(t, ctx, sys)
		// Another switch holds the lock (until the test ends or lab down).
		// It says "locked" once it holds the lock; head returns then.
		hold := `setsid -f sh -c 'exec 9>` + nix.SwitchLockPath + `; flock 9; echo $$ >/run/lock-holder.pid; echo locked; exec sleep 600 >/dev/null 2>&1' </dev/null 2>&1 | head -n 1`
		if out, err := o.lab.Exec(ctx, "canary", []string{"sh", "-c", hold}, nil); err != nil || string(out) != "locked\n" {
			t.Fatalf("lock holder: %q %v", out, err)
		}
		defer o.lab.Exec(ctx, "canary", []string{"sh", "-c", "kill $(cat /run/lock-holder.pid)"}, nil)
		res, logs, err := o.activate(t, ctx, "canary", nix.ActivateRequest{Action: nix.Switch, Path: sys["canary"]})
		s := o.state(t, ctx, "canary")
		if err != nil || res.Outcome != nix.OutcomeRefused || !strings.Contains(strings.Join(logs, "\n"), "Could not acquire lock") {
			t.Errorf("switch under a held lock: %+v (%s) %v; logs %q", res, res.Outcome, err, logs)
		}
		if s.Profile != before.Profile || s.ProfileGeneration != before.ProfileGeneration || s.Current != before.Current || len(s.Generations) != len(before.Generations)+1 {
			t.Errorf("after a refused switch: profile gen %d %s, running %s, %d generations; want gen %d %s, running %s, %d generations (the new one kept)",
				s.ProfileGeneration, s.Profile, s.Current, len(s.Generations), before.ProfileGeneration, before.Profile, before.Current, len(before.Generations)+1)
		}
	})

	t.Run("a lock-out is survived by reconnecting once sshd is back", func(t *testing.T) {
		sys := o.change(t, ctx, "web01", lab.ChangeOptions{Fault: "breakssh"}, "web01")
		o.copyAll(t, ctx, sys)
		// The activation stops once the listener is gone, until released
		// below: the cut always happens while it runs.
		// Whatever happens here, the later subtests need web01 reachable.
		release := o.holdBreakSSH(t, "web01")
		client, err := o.pool.Get(ctx, o.node(t, "web01").Target())
		if err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		var failedDials int
		var logs []string
		res, _, err := o.activate(t, ctx, "web01", nix.ActivateRequest{Action: nix.Switch, Path: sys["web01"], Timeout: 2 * time.Minute,
			Log: func(l string) {
				logs = append(logs, l)
				// The listener is gone now; drop our session too, as a
				// network cut would.
				if strings.Contains(l, "sshd.service") {
					once.Do(func() { go client.Close() })
				}
			},
			Reconnect: func(ctx context.Context) (nix.Runner, error) {
				r, err := o.conn.Fresh(ctx, o.node(t, "web01"))
				if err != nil {
					failedDials++
					if failedDials == 1 {
						// The activation holds the switch lock until it ends.
						if _, err := o.lab.Exec(ctx, "web01", []string{"flock", "-n", nix.SwitchLockPath, "true"}, nil); err == nil {
							t.Error("the activation had ended before the connection was cut")
						}
					}
					if failedDials == 2 {
						release()
						if err := o.lab.SetHost("web01", true); err != nil {
							t.Error(err)
						}
					}
				}
				return r, err
			}})
		if err != nil || res.Outcome != nix.OutcomeDone || res.Reconnects != 1 || failedDials < 2 {
			t.Fatalf("breakssh: %+v %v after %d failed dials; logs %q", res, err, failedDials, logs)
		}
		if s := o.state(t, ctx, "web01"); s.Current != sys["web01"] {
			t.Errorf("breakssh: running %s, want %s", s.Current, sys["web01"])
		}
	})

	t.Run("rollback to a chosen generation", func(t *testing.T) {
		// web01 runs the machine's Nix, db01 current Nix.
		for _, h := range []string{"web01", "db01"} {
			before := o.state(t, ctx, h)
			g, err := nix.RollbackTarget(before, 1)
			if err != nil {
				t.Fatal(err)
			}
			r, err := o.conn.Runner(ctx, o.node(t, h))
			if err != nil {
				t.Fatal(err)
			}
			res, err := nix.Rollback(ctx, r, g, nix.ActivateRequest{OpID: "rollback-" + h})
			s := o.state(t, ctx, h)
			if err != nil || res.Outcome != nix.OutcomeDone || s.ProfileGeneration != 1 || s.Current != gen1[h].Current || len(s.Generations) != len(before.Generations) {
				t.Errorf("%s: rollback: %+v %v; state gen %d current %s, %d generations (had %d)", h, res, err, s.ProfileGeneration, s.Current, len(s.Generations), len(before.Generations))
			}
		}
	})

	t.Run("reboot needed after a kernel change", func(t *testing.T) {
		sys := o.change(t, ctx, "db01", lab.ChangeOptions{Fault: "reboot"}, "db01")
		o.copyAll(t, ctx, sys)
		if res, _, err := o.activate(t, ctx, "db01", nix.ActivateRequest{Action: nix.Switch, Path: sys["db01"]}); err != nil || res.Outcome != nix.OutcomeDone {
			t.Fatalf("switch: %+v %v", res, err)
		}
		if s := o.state(t, ctx, "db01"); !s.RebootNeeded {
			t.Errorf("reboot not flagged: %+v", s)
		}
		if s := o.state(t, ctx, "web01"); s.RebootNeeded {
			t.Errorf("web01 flagged for reboot without a kernel change")
		}
	})

	t.Run("build on the target: the outputs never cross the link", func(t *testing.T) {
		// canary builds with Nix 2.8, db01 with Nix 2.26.
		for _, h := range []string{"canary", "db01"} {
			drvs := newSystem(t, ctx, o, h)
			r, err := o.conn.Runner(ctx, o.node(t, h))
			if err != nil {
				t.Fatal(err)
			}
			var logs []string
			sys, err := nix.BuildOnTarget(ctx, nix.LocalRunner{}, r, drvs[h].DrvPath, func(l string) { logs = append(logs, l) })
			if err != nil || sys != drvs[h].OutPath || len(logs) == 0 {
				t.Fatalf("%s: BuildOnTarget() = %q, %v; want %s and build output (got %d lines)", h, sys, err, drvs[h].OutPath, len(logs))
			}
			if missing, err := nix.Invalid(ctx, nix.LocalRunner{}, []string{sys}); err != nil || len(missing) != 1 {
				t.Errorf("%s: the system reached the operator's store: %v %v", h, missing, err)
			}
			if _, err := o.lab.Exec(ctx, h, []string{"nix-store", "--check-validity", sys}, nil); err != nil {
				t.Errorf("%s: not built on the host: %v", h, err)
			}
		}
	})

	t.Run("status with a host down shows the others", func(t *testing.T) {
		if err := o.lab.SetHost("canary", false); err != nil {
			t.Fatal(err)
		}
		o.pool.Close() // no reuse of the old connection: dial afresh like a new `nixdeck status`
		o.pool = nil
		eng := fleet.Open(o.f, fleet.Options{SSH: remote.Options{SSHConfigPath: "none"}})
		defer eng.Close()
		var nodes []*fleet.Node
		for _, h := range hosts {
			nodes = append(nodes, o.node(t, h))
		}
		sts := fleet.CollectStates(nodes, eng.ReadStates(ctx, nodes).All())
		if sts[0].Err == nil || !strings.Contains(sts[0].Err.Error(), "canary") {
			t.Errorf("canary down: %+v", sts[0])
		}
		for _, s := range sts[1:] {
			if s.Err != nil || s.State == nil {
				t.Errorf("%s: %v", s.Node.Name, s.Err)
			}
		}
	})
}

// newSystem bumps host's next system until it is one the operator's store
// lacks, and returns its derivation: every lab builds the same systems,
// and another test may have built this one here already.
func newSystem(t *testing.T, ctx context.Context, o *opsLab, host string) map[string]nix.Derivation {
	t.Helper()
	for range 5 {
		if err := o.lab.Change(host, lab.ChangeOptions{Fault: "none", Bump: true}); err != nil {
			t.Fatal(err)
		}
		req, err := o.f.BuildRequest(map[string]string{host: o.node(t, host).AttrPath()}, "")
		if err != nil {
			t.Fatal(err)
		}
		drvs, err := nix.Instantiate(ctx, nix.LocalRunner{}, req)
		if err != nil {
			t.Fatal(err)
		}
		if missing, err := nix.Invalid(ctx, nix.LocalRunner{}, []string{drvs[host].OutPath}); err == nil && len(missing) == 1 {
			return drvs
		}
	}
	t.Fatalf("%s: five bumps in a row gave systems this store has", host)
	return nil
}

// TestCopyLargeClosureOverSSH copies a 3,001-path closure (about 180 KiB of
// path names, more than one remote command line may hold) to a lab host
// over its SSH connection: the path lists must travel on stdin. A second
// copy sends nothing.
func TestCopyLargeClosureOverSSH(t *testing.T) {
	o := startOpsLab(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sys := nixtest.LargeClosure(t, 3000)
	res := o.copyAll(t, ctx, map[string]string{"canary": sys})["canary"]
	if res.Closure != 3001 || len(res.Missing) != 3001 || res.Bytes == 0 {
		t.Fatalf("first copy: closure %d, sent %d paths (%d bytes); want all 3001", res.Closure, len(res.Missing), res.Bytes)
	}
	if _, err := o.lab.Exec(ctx, "canary", []string{"nix-store", "--check-validity", sys}, nil); err != nil {
		t.Errorf("not in the host's store: %v", err)
	}
	if again := o.copyAll(t, ctx, map[string]string{"canary": sys})["canary"]; len(again.Missing) != 0 || again.Bytes != 0 {
		t.Errorf("second copy sent %d paths (%d bytes)", len(again.Missing), again.Bytes)
	}
}
