package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"nixdeck/lab"
)

// Subtests of TestDeployOnLab that run two nixdeck processes at once, or
// signal one at a chosen point of its rollout.

// gateFile is where a gated fleet's health check looks, on the host:
// until it exists the check fails, and a deploy waits in its health
// phase, holding the host's lock.
const gateFile = "/run/nixdeck-test/open"

// gatedFleet writes a copy of the lab's fleet file whose first health
// check passes only once gateFile exists on the host (openGate), and
// returns its path. It sits beside the lab's, whose relative paths it
// shares. The gate on host is closed now and again when the test ends.
func gatedFleet(t *testing.T, l *lab.Lab, host string) string {
	t.Helper()
	closeGate(t, l, host)
	t.Cleanup(func() { closeGate(t, l, host) })
	b, err := os.ReadFile(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	const health = "  health:\n"
	if !strings.Contains(string(b), health) {
		t.Fatalf("%s has no health checks:\n%s", l.FleetPath, b)
	}
	gate := health + "    - name: gate\n      run: test -e " + gateFile + "\n      timeout: 10m\n"
	path := filepath.Join(l.Dir, "fleet-gated.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), health, gate, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// openGate lets the gated fleet's health check pass on host; closeGate
// makes it fail again.
func openGate(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	if out, err := l.Exec(context.Background(), host, []string{"sh", "-c", "mkdir -p " + filepath.Dir(gateFile) + " && touch " + gateFile}, nil); err != nil {
		t.Fatalf("%s: open the gate: %v\n%s", host, err, out)
	}
}

func closeGate(t *testing.T, l *lab.Lab, host string) {
	t.Helper()
	if out, err := l.Exec(context.Background(), host, []string{"rm", "-f", gateFile}, nil); err != nil {
		t.Errorf("%s: close the gate: %v\n%s", host, err, out)
	}
}

var opLineRE = regexp.MustCompile(`(?m)^\* (deploy-\d{8}T\d{6}-[0-9a-f]{6}): `)

// testLockRefused runs a deploy of the canary held in its health checks
// (its lock held), then a second deploy of the canary: the lock refuses
// it, naming the first's owner, process and operation; the canary stays
// as the first deploy leaves it.
func testLockRefused(t *testing.T, bin, state string, l *lab.Lab) {
	gated := gatedFleet(t, l, "canary")
	if err := l.Change("canary", lab.ChangeOptions{Bump: true}); err != nil {
		t.Fatal(err)
	}
	before := generation(t, l, "canary")
	first := nixdeckRunFleet(t, bin, state, gated, "deploy", "--yes", "--on", "canary")
	first.waitLine(t, "canary | check gate failing")
	m := opLineRE.FindStringSubmatch(first.stdout())
	if m == nil {
		t.Fatalf("the first deploy printed no operation id:\n%s", first.stdout())
	}
	holder := fmt.Sprintf("held by %s pid=%d op=%s", operator(), first.cmd.Process.Pid, m[1])

	if err := l.Change("canary", lab.ChangeOptions{Bump: true}); err != nil {
		t.Fatal(err)
	}
	second := nixdeckRun(t, bin, state, l, "deploy", "--yes", "--on", "canary")
	if code := second.wait(t); code != 3 {
		t.Errorf("the second deploy: exit %d, want 3 (the canary failed):\n%s\n%s", code, second.stdout(), second.stderr.String())
	}
	out := second.stdout()
	if !strings.Contains(out, "canary canary failed: lock: ") || !strings.Contains(out, holder) {
		t.Errorf("the second deploy does not say the lock is %s:\n%s", holder, out)
	}
	if strings.Contains(out, "canary | copying") || strings.Contains(out, "canary | activating") {
		t.Errorf("the second deploy went past the lock:\n%s", out)
	}

	openGate(t, l, "canary")
	if code := first.wait(t); code != 0 {
		t.Errorf("the first deploy: exit %d:\n%s\n%s", code, first.stdout(), first.stderr.String())
	}
	if g := generation(t, l, "canary"); g != before+1 {
		t.Errorf("canary on generation %d, want %d (the first deploy's)", g, before+1)
	}
}

// testInterruptActivating sends one SIGINT while web01 is in the middle
// of an activation that locked SSH out (held there by the lab) and the
// canary, activated, waits in its health checks (held by the gated
// fleet's check); db01 waits for a free slot (two hosts at a time), and
// the failure budget does not stop it. Once the abort is printed, the
// gates open. Each host ends on its old generation or its new one and the
// summary says which: the canary done, web01 rolled back by itself, db01
// never started.
func testInterruptActivating(t *testing.T, bin, state string, l *lab.Lab) {
	gated := gatedFleet(t, l, "canary")
	if err := l.Change("web01", lab.ChangeOptions{Fault: "breakssh"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Change("web01", lab.ChangeOptions{Fault: "none"}); err != nil {
			t.Error(err)
		}
		if err := l.SetHost("web01", true); err != nil {
			t.Error(err)
		}
	})
	if err := l.Change("", lab.ChangeOptions{Bump: true}); err != nil {
		t.Fatal(err)
	}
	release, err := l.HoldBreakSSH("web01")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	before := gens(t, l)
	r := nixdeckRunFleet(t, bin, state, gated, "deploy", "--yes", "--canary=", "--parallel", "2", "--max-failures", "5", "--confirm-timeout", "3s")
	r.waitLine(t, "canary | check gate failing")
	r.waitLine(t, "web01  | restarting the following units: ")
	r.cmd.Process.Signal(syscall.SIGINT)
	r.waitLine(t, "* aborting: no new host starts; waiting for canary, web01 (in flight)")
	release()
	openGate(t, l, "canary")
	if code := r.wait(t); code != 130 {
		t.Errorf("exit %d, want 130:\n%s", code, r.stdout())
	}
	out := r.stdout()
	if _, after, _ := strings.Cut(out, "* aborting"); strings.Contains(after, "| soaking") {
		t.Errorf("hosts soak after the abort:\n%s", out)
	}
	after := gens(t, l) // each host runs its profile's generation: never half-done
	_, table, _ := strings.Cut(out, "\nHOST ")
	for h, want := range map[string]struct {
		outcome, gens string
		gen           int
	}{
		"canary": {"done", fmt.Sprintf("%d → %d", before["canary"], before["canary"]+1), before["canary"] + 1},
		"web01":  {"rolled back", fmt.Sprint(before["web01"]), before["web01"]},
		"db01":   {"skipped", "-", before["db01"]},
	} {
		row := regexp.MustCompile(`(?m)^` + h + ` +(\S+(?: back)?) +(\S+ → \S+|\S+) +.*$`).FindStringSubmatch(table)
		if row == nil || row[1] != want.outcome || row[2] != want.gens || after[h] != want.gen {
			t.Errorf("%s: summary row %q, want %s %s; on generation %d, want %d:\n%s", h, row, want.outcome, want.gens, after[h], want.gen, out)
		}
	}
	if !strings.Contains(out, "web01  | rolled back after ") || !strings.Contains(out, "no SSH after activation") {
		t.Errorf("web01's rollback is not said:\n%s", out)
	}
}
