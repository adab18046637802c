package fleet_test

import (
	"context"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
)

// TestRolloutLoginsOnLab counts, in the hosts' sshd logs, the logins one
// deploy costs each host, each deploy on connections of its own (as each
// `nixdeck deploy` is a process of its own): a switch under magic
// rollback logs in twice, the operation's connection and the new one
// that confirms the activation, health checks included; an unchanged
// redeploy once, to read the host's state.
func TestRolloutLoginsOnLab(t *testing.T) {
	o := startOpsLab(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var hosts []string
	for _, h := range o.lab.Hosts {
		hosts = append(hosts, h.Name)
	}
	logins := func() map[string]int {
		n := map[string]int{}
		for _, h := range hosts {
			c, err := o.lab.Logins(h)
			if err != nil {
				t.Fatal(err)
			}
			n[h] = c
		}
		return n
	}
	b := o.change(t, ctx, "", lab.ChangeOptions{Release: "b"}, hosts...)
	edit := func(p *fleet.Plan) {
		p.Policy.MagicRollback, p.Policy.Soak = true, time.Second
		if len(p.Policy.Health) == 0 {
			t.Fatal("the lab's fleet file has no health checks: the test would not count theirs")
		}
	}
	for _, step := range []struct {
		name    string
		outcome fleet.Outcome
		logins  int
	}{{"switch", fleet.OutcomeDone, 2}, {"unchanged redeploy", fleet.OutcomeUnchanged, 1}} {
		t.Run(step.name, func(t *testing.T) {
			fresh := openOpsLab(t, o.lab)
			before := logins()
			run := fresh.deploy(t, ctx, b, edit, hosts...)
			fresh.eng.Close()
			fresh.pool.Close()
			after := logins()
			for _, h := range hosts {
				if got := run.outcomes[h]; got.Outcome != step.outcome {
					t.Errorf("%s: %s", h, run.outcome(h))
				}
				if n := after[h] - before[h]; n != step.logins {
					t.Errorf("%s: %d logins, want %d", h, n, step.logins)
				}
			}
		})
	}
}
