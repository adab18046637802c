package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// labRun is one nixdeck run by a lab test: its stdout line by line as they
// come, so the test can act at a point of the rollout, and its end.
type labRun struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	mu     sync.Mutex
	lines  []string
	more   chan struct{} // closed and replaced at each line
	exited chan struct{}
	code   int
}

// nixdeckRun starts bin with args in the lab's fleet, with state as its
// state directory and stdin from /dev/null (no terminal).
func nixdeckRun(t *testing.T, bin, state string, l *lab.Lab, args ...string) *labRun {
	t.Helper()
	return nixdeckRunFleet(t, bin, state, l.FleetPath, args...)
}

// nixdeckRunFleet is nixdeckRun with the fleet file at path.
func nixdeckRunFleet(t *testing.T, bin, state, path string, args ...string) *labRun {
	t.Helper()
	r := &labRun{cmd: exec.Command(bin, append([]string{"-f", path}, args...)...), more: make(chan struct{}), exited: make(chan struct{})}
	r.cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state, "NO_COLOR=")
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			close(r.more)
			r.more = make(chan struct{})
			r.mu.Unlock()
		}
		r.cmd.Wait()
		r.code = r.cmd.ProcessState.ExitCode()
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.exited
	})
	return r
}

// wait waits for the run to end and returns its exit code.
func (r *labRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.exited:
	case <-time.After(5 * time.Minute):
		t.Fatalf("nixdeck still running after 5 minutes:\n%s\n%s", r.stdout(), r.stderr.String())
	}
	return r.code
}

// waitLine waits for a line of stdout that contains s.
func (r *labRun) waitLine(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(5 * time.Minute)
	for seen := 0; ; {
		r.mu.Lock()
		lines, more := r.lines, r.more
		r.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if strings.Contains(lines[seen], s) {
				return
			}
		}
		select {
		case <-more:
		case <-r.exited:
			t.Fatalf("nixdeck ended without printing %q:\n%s\n%s", s, r.stdout(), r.stderr.String())
		case <-deadline:
			t.Fatalf("no %q within 5 minutes:\n%s", s, r.stdout())
		}
	}
}

func (r *labRun) stdout() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n") + "\n"
}

// Besides times, a lab rollout's output varies in what the machine and
// the lab's paths make of it: the operator, byte counts (the closures
// hold the lab's directory) and how many tries a health check took.
var (
	sizeRE    = regexp.MustCompile(`[+-]?\d[\d,]*(\.\d+)? ?(B|KiB|MiB|GiB)\b|\(\d+ bytes\)`)
	attemptRE = regexp.MustCompile(`\(attempt \d+\)`)
)

func maskLab(s string) string {
	s = strings.ReplaceAll(s, operator(), "OPERATOR")
	s = sizeRE.ReplaceAllString(s, "SIZE")
	s = attemptRE.ReplaceAllString(s, "(attempt N)")
	return maskTimes(s)
}

// generation reads which generation a host's profile is on and whether
// it runs that generation's system: never half-done.
func generation(t *testing.T, l *lab.Lab, host string) int {
	t.Helper()
	out, err := l.Exec(context.Background(), host, []string{"sh", "-c",
		`p=$(readlink /nix/var/nix/profiles/system); [ "$(readlink -f /nix/var/nix/profiles/system)" = "$(readlink -f /run/current-system)" ] && echo "$p"`}, nil)
	if err != nil {
		t.Fatalf("%s: the profile does not hold the running system: %v", host, err)
	}
	var g int
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "system-%d-link", &g); err != nil {
		t.Fatalf("%s: profile %q", host, out)
	}
	return g
}

func gens(t *testing.T, l *lab.Lab) map[string]int {
	out := map[string]int{}
	for _, h := range l.Hosts {
		out[h.Name] = generation(t, l, h.Name)
	}
	return out
}

// TestDeployOnLab runs the nixdeck binary against a 3-host mixed lab
// (canary and web01 on the machine's Nix, db01 on current Nix), as CI
// would: a canary rollout checked against its golden output, an unchanged
// redeploy, a canary that fails (exit 3), Ctrl-C in a soak and during
// activations, a deploy refused by another's lock, rollbacks, and the
// history all of that left.
func TestDeployOnLab(t *testing.T) {
	l := labtest.StartMixed(t, 3)
	bin := buildNixdeck(t)
	state := t.TempDir()

	t.Run("without a terminal it refuses unless --yes", func(t *testing.T) {
		r := nixdeckRun(t, bin, state, l, "deploy")
		if code := r.wait(t); code != 2 || !strings.Contains(r.stderr.String(), "pass --yes") {
			t.Errorf("exit %d:\n%s", code, r.stderr.String())
		}
	})

	t.Run("a canary rollout, headless", func(t *testing.T) {
		if err := l.Change("", lab.ChangeOptions{Release: "b"}); err != nil {
			t.Fatal(err)
		}
		r := nixdeckRun(t, bin, state, l, "deploy", "--yes", "--soak", "1s")
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d:\n%s\n%s", code, r.stdout(), r.stderr.String())
		}
		checkGolden(t, "deploy_canary_lab.golden", maskLab(r.stdout()))
		if g := gens(t, l); g["canary"] != 2 || g["web01"] != 2 || g["db01"] != 2 {
			t.Errorf("generations %v, want 2 everywhere", g)
		}
		recs, err := fleet.ReadHistory(filepath.Join(state, "nixdeck"), fleet.HistoryFilter{Last: 1})
		if err != nil || len(recs) != 3 {
			t.Fatalf("history: %+v, %v", recs, err)
		}
		for _, rec := range recs {
			b, err := os.ReadFile(filepath.Join(state, "nixdeck", fleet.LogsDir, rec.OpID, rec.Host+".log"))
			if err != nil || !bytes.Contains(b, []byte("[activate] activating the configuration...")) {
				t.Errorf("%s's log holds no activation output: %v\n%s", rec.Host, err, b)
			}
		}
	})

	t.Run("an unchanged redeploy", func(t *testing.T) {
		r := nixdeckRun(t, bin, state, l, "deploy", "--yes", "--json")
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d:\n%s", code, r.stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(r.stdout()), "\n")
		var sum struct {
			ExitCode int `json:"exit_code"`
			Hosts    []struct{ Outcome string }
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || len(sum.Hosts) != 3 {
			t.Fatalf("summary %s: %v", lines[len(lines)-1], err)
		}
		for _, h := range sum.Hosts {
			if h.Outcome != "unchanged" {
				t.Errorf("summary %+v", sum)
			}
		}
	})

	t.Run("a failing canary halts with exit 3 and touches no other host", func(t *testing.T) {
		if err := l.Change("", lab.ChangeOptions{Bump: true}); err != nil {
			t.Fatal(err)
		}
		if err := l.Change("canary", lab.ChangeOptions{Fault: "fail"}); err != nil {
			t.Fatal(err)
		}
		r := nixdeckRun(t, bin, state, l, "deploy", "--yes")
		if code := r.wait(t); code != 3 {
			t.Errorf("exit %d, want 3:\n%s\n%s", code, r.stdout(), r.stderr.String())
		}
		for _, want := range []string{"* halted: canary canary failed", "web01   skipped", "db01    skipped"} {
			if !strings.Contains(r.stdout(), want) {
				t.Errorf("no %q in:\n%s", want, r.stdout())
			}
		}
		if g := gens(t, l); g["web01"] != 2 || g["db01"] != 2 {
			t.Errorf("generations %v: web01 and db01 were touched", g)
		}
		if err := l.Change("canary", lab.ChangeOptions{Fault: "none"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Ctrl-C lets the host in flight finish and starts no other", func(t *testing.T) {
		// The canary soaks for ten minutes: the next wave cannot start
		// before the signal, whatever the machine's load.
		before := gens(t, l)
		r := nixdeckRun(t, bin, state, l, "deploy", "--yes", "--soak", "10m")
		r.waitLine(t, "canary | soaking")
		r.cmd.Process.Signal(syscall.SIGINT)
		if code := r.wait(t); code != 130 {
			t.Errorf("exit %d, want 130", code)
		}
		out := r.stdout()
		if !strings.Contains(out, "* aborting: no new host starts; waiting for canary (in flight); press Ctrl-C again to stop waiting") {
			t.Errorf("the abort does not name the host in flight:\n%s", out)
		}
		after := gens(t, l) // and each runs its profile's system: old or new, never half-done
		if after["canary"] != before["canary"]+1 || after["web01"] != before["web01"] || after["db01"] != before["db01"] {
			t.Errorf("generations %v before, %v after", before, after)
		}
		for _, want := range []string{"canary  done", "web01   skipped", "db01    skipped"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in:\n%s", want, out)
			}
		}
	})

	t.Run("a second deploy during the first is refused by the lock, naming its owner", func(t *testing.T) {
		testLockRefused(t, bin, state, l)
	})

	t.Run("Ctrl-C during the activations leaves each host on its old or its new generation, and says which", func(t *testing.T) {
		testInterruptActivating(t, bin, state, l)
	})

	t.Run("rollback to a chosen generation, then to the previous one", func(t *testing.T) {
		others := gens(t, l)
		before := generation(t, l, "canary")
		r := nixdeckRun(t, bin, state, l, "rollback", "--on", "canary", "--to", "2", "--yes")
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d:\n%s\n%s", code, r.stdout(), r.stderr.String())
		}
		if want := fmt.Sprintf("canary | generation %d → 2 (", before); !strings.Contains(r.stdout(), want) {
			t.Errorf("no %q:\n%s", want, r.stdout())
		}
		if g := generation(t, l, "canary"); g != 2 {
			t.Errorf("canary on generation %d after rollback --to 2", g)
		}
		r = nixdeckRun(t, bin, state, l, "rollback", "--on", "canary", "--yes")
		if code := r.wait(t); code != 0 {
			t.Fatalf("exit %d:\n%s\n%s", code, r.stdout(), r.stderr.String())
		}
		if g := generation(t, l, "canary"); g != 1 {
			t.Errorf("canary on generation %d after a rollback from 2, want 1", g)
		}
		// --on canary: no other host moved.
		if g := gens(t, l); g["web01"] != others["web01"] || g["db01"] != others["db01"] {
			t.Errorf("generations %v before the rollbacks of canary, %v after", others, g)
		}
	})

	t.Run("history", func(t *testing.T) {
		var out bytes.Buffer
		c := historyCmd{stateDir: filepath.Join(state, "nixdeck"), Host: "canary", Last: 2, JSON: true}
		if err := c.run(&out); err != nil {
			t.Fatal(err)
		}
		var recs []fleet.HistoryRecord
		if err := json.Unmarshal(out.Bytes(), &recs); err != nil || len(recs) != 2 {
			t.Fatalf("%v: %s", err, out.String())
		}
		if recs[0].Kind != "rollback" || recs[0].ToGen != 2 || recs[1].ToGen != 1 || recs[1].Outcome != "done" || recs[1].Selector != "canary" {
			t.Errorf("the last two operations on canary: %+v", recs)
		}
		all, err := fleet.ReadHistory(filepath.Join(state, "nixdeck"), fleet.HistoryFilter{})
		// Five deploys of the three hosts, two of the canary alone, two
		// rollbacks of it.
		if err != nil || len(all) != 3*5+2+2 {
			t.Errorf("%d records (%v), want 3 per deploy of all, 1 per deploy or rollback of the canary", len(all), err)
		}
	})
}
