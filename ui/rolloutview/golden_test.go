package rolloutview

import (
	"fmt"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/ui/internal/uitest"
	"nixdeck/ui/keys"
	"nixdeck/ui/styles"
)

var twelveHosts = []string{"web01", "web02", "web03", "web04", "web05", "web06", "web07", "web08", "db01", "db02", "db03", "db04"}

// frames are the pane's states the golden files hold.
func frames(st *styles.Styles, w, h int) map[string]string {
	newM := func(hosts []string, canary []string, batch int) Model {
		m := New(st, keys.Default())
		m.SetSize(w, h)
		m.SetBudget(1)
		m.SetNow(t0.Add(95 * time.Second))
		m.SetControl(&fakeControl{})
		apply(&m, plan(hosts, canary, batch))
		return m
	}
	out := map[string]string{}

	// The canary passed; the second wave copies and activates.
	m := newM(twelveHosts, []string{"web01"}, 4)
	apply(&m, one(fleet.WaveStarted{EventBase: at("", 1), Wave: 1, Canary: true, Hosts: []string{"web01"}}),
		phases("web01", 1, fleet.PhaseConnecting, fleet.PhaseCopying, fleet.PhaseActivating, fleet.PhaseHealth),
		done("web01", 42, fleet.OutcomeDone, "", false),
		one(fleet.WaveHealthy{EventBase: at("", 43), Wave: 1}),
		one(fleet.WaveStarted{EventBase: at("", 43), Wave: 2, Hosts: twelveHosts[1:5]}),
		phases("web02", 43, fleet.PhaseConnecting, fleet.PhaseReading, fleet.PhaseLocking, fleet.PhaseCopying),
		one(copying("web02", 50, 212, 530, 48<<20, 131<<20)),
		phases("web03", 43, fleet.PhaseConnecting, fleet.PhaseCopying, fleet.PhaseActivating),
		one(logLine("web03", 60, "restarting the following units: nginx.service, \x1b[31mphp-fpm.service\x1b[0m")),
		phases("web04", 44, fleet.PhaseConnecting),
		done("web05", 47, fleet.OutcomeUnreachable, "connect: dial tcp 10.0.0.5:22: connect: no route to host", false))
	out["canary"] = m.View()

	// The canary failed: the rollout halted and skipped the rest.
	m = newM(twelveHosts, []string{"web01", "web02"}, 5)
	apply(&m, one(fleet.WaveStarted{EventBase: at("", 1), Wave: 1, Canary: true, Hosts: []string{"web01", "web02"}}),
		phases("web01", 1, fleet.PhaseConnecting, fleet.PhaseActivating),
		phases("web02", 1, fleet.PhaseConnecting, fleet.PhaseActivating, fleet.PhaseHealth),
		done("web01", 30, fleet.OutcomeRolledBack, "activate: units failed: nginx.service; rolled back to generation 41", false),
		one(fleet.RolloutHalted{EventBase: at("", 30), Reason: "canary web01 rolled back: activate: units failed: nginx.service"}),
		done("web02", 35, fleet.OutcomeDone, "", false))
	for _, h := range twelveHosts[2:] {
		apply(&m, done(h, 36, fleet.OutcomeSkipped, "not started: the rollout halted (canary web01 rolled back)", false))
	}
	apply(&m, one(fleet.OpFinished{EventBase: at("", 36)}))
	out["halted"] = m.View()

	// Paused, then aborted with two hosts in flight.
	m = newM(twelveHosts, nil, 4)
	apply(&m, one(fleet.WaveStarted{EventBase: at("", 1), Wave: 1, Hosts: twelveHosts[:4]}),
		phases("web01", 1, fleet.PhaseConnecting, fleet.PhaseCopying, fleet.PhaseActivating),
		phases("web02", 1, fleet.PhaseConnecting, fleet.PhaseCopying, fleet.PhaseRooting),
		done("web03", 20, fleet.OutcomeDone, "", false),
		done("web04", 21, fleet.OutcomeFailed, "copy: /nix/store/…-nixos-system: no space left on device", false),
		one(fleet.RolloutPaused{EventBase: at("", 22), Paused: true}),
		one(fleet.AbortRequested{EventBase: at("", 25)}))
	out["aborting"] = m.View()

	// A thousand hosts, the third wave at work, the highlight on it.
	var many []string
	for i := range 1000 {
		many = append(many, fmt.Sprintf("node%04d", i))
	}
	m = newM(many, many[:2], 200)
	for i := range 402 {
		apply(&m, done(many[i], 10+float64(i)/10, fleet.OutcomeDone, "", false))
	}
	apply(&m, one(fleet.WaveStarted{EventBase: at("", 60), Wave: 3, Hosts: many[202:402]}))
	for i := 402; i < 420; i++ {
		apply(&m, phases(many[i], 61, fleet.PhaseConnecting, fleet.PhaseCopying))
	}
	out["many"] = m.View()
	return out
}

// The pane at 80x24 and 160x48, without colour and with: every state is
// a mark and words, not a colour alone.
func TestGolden(t *testing.T) { uitest.GoldenFrames(t, frames, "canary") }
