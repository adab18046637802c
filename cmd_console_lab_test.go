package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// tmuxConsole is the real binary's console in a tmux server of its own,
// driven as an operator would: keys in (send-keys), the screen out
// (capture-pane).
type tmuxConsole struct {
	t    *testing.T
	sock string
}

// openConsole runs `nixdeck -f fleet` in a w x h tmux pane, with state as
// its state directory, and kills the server when the test ends.
func openConsole(t *testing.T, bin, fleetPath, state string, w, h int) *tmuxConsole {
	t.Helper()
	testenv.NeedCommands(t, "tmux")
	c := &tmuxConsole{t: t, sock: filepath.Join(t.TempDir(), "tmux")}
	c.tmux("new-session", "-d", "-s", "c", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h),
		"env", "XDG_STATE_HOME="+state, "NO_COLOR=", bin, "-f", fleetPath)
	t.Cleanup(func() { exec.Command("tmux", "-S", c.sock, "kill-server").Run() })
	return c
}

func (c *tmuxConsole) tmux(args ...string) string {
	c.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", c.sock}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys presses keys, by tmux's names ("j", "Enter", "Escape", "Space").
func (c *tmuxConsole) keys(keys ...string) {
	c.t.Helper()
	for _, k := range keys {
		c.tmux("send-keys", "-t", "c", k)
	}
}

// back presses esc and waits for the fleet table: a key sent right after
// an esc would reach the console as alt and that key, as from a terminal.
func (c *tmuxConsole) back() {
	c.t.Helper()
	c.keys("Escape")
	c.waitFor("NAME", "TAGS", "STATE")
}

// screen is what the pane shows now.
func (c *tmuxConsole) screen() string {
	c.t.Helper()
	return c.tmux("capture-pane", "-p", "-t", "c")
}

// until waits until ok says yes of the screen, and returns it; it fails
// with the screen after two minutes. The console answers at its own pace
// (a rollout soaks its hosts for seconds): the test watches the screen,
// it does not guess a delay.
func (c *tmuxConsole) until(what string, ok func(screen string) bool) string {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s := c.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the console never showed %s; it shows:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond) // a poll of the screen, not a guess at a duration
	}
}

// waitFor waits until the screen shows every one of want.
func (c *tmuxConsole) waitFor(want ...string) string {
	c.t.Helper()
	return c.until(fmt.Sprintf("%q", want), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

// rowsSay waits until the fleet table's row of each host holds want.
func (c *tmuxConsole) rowsSay(want string, hosts ...string) string {
	c.t.Helper()
	return c.until(fmt.Sprintf("%q in the rows of %v", want, hosts), func(s string) bool {
		for _, h := range hosts {
			if !strings.Contains(row(s, h), want) {
				return false
			}
		}
		return true
	})
}

// row is the fleet table's line about host, selected or not.
func row(screen, host string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, " "+host+" ") || strings.Contains(l, "*"+host+" ") {
			return l
		}
	}
	return ""
}

// TestConsoleOnLab is the run of the console on a 4-host mixed lab
// (db01 and web02 on current Nix and OpenSSH),
// through tmux: open, refresh, select two hosts and see their diff,
// switch them to done while a log follows, roll one back to generation 1
// from the generations screen and another with r, a canary rollout
// whose canary fails and halts, trusting an unknown host key, quitting.
func TestConsoleOnLab(t *testing.T) {
	l := labtest.StartMixed(t, 4)
	bin := buildNixdeck(t)
	state := t.TempDir()
	c := openConsole(t, bin, l.FleetPath, state, 160, 40)

	c.rowsSay(" up ", "canary", "web01", "db01", "web02")
	c.rowsSay(" no ", "canary", "web01", "db01", "web02") // built: no drift
	if err := l.Change("web01,db01", lab.ChangeOptions{Release: "b"}); err != nil {
		t.Fatal(err)
	}
	c.keys("R")
	s := c.rowsSay(" drift ", "web01", "db01")
	if strings.Contains(row(s, "web02"), " drift ") {
		t.Errorf("web02 was not changed but shows drift:\n%s", s)
	}

	// Select web01 and db01, see their diffs.
	c.keys("Home", "j", "Space", "j", "Space")
	c.waitFor("2 selected", "*web01", "*db01")
	c.keys("d")
	c.waitFor("host 1/2 (tab)", "web01", "Version changes:")
	c.keys("Tab")
	c.waitFor("host 2/2 (tab)", "db01")
	c.back()

	// Switch them; the log pane follows a host's output; both end done.
	c.keys("s")
	c.waitFor("Switch 2 hosts?", "web01", "db01", "y proceeds")
	c.keys("y")
	c.waitFor("deploy switch", "[activate]")
	c.waitFor("2 of 2 ended: 2 done")
	c.back()
	c.keys("A")
	c.rowsSay(" 2 24.05.", "web01", "db01") // the rollout's hosts are read again
	c.rowsSay(" no ", "web01", "db01")

	// web01 back to generation 1 from its generations screen.
	c.keys("Home", "j", "g")
	c.waitFor("web01 · 2 generations", "current, running")
	c.keys("j")
	c.waitFor("Going back to generation 1:", "Version changes:")
	c.keys("Enter")
	c.waitFor("Roll back web01 to generation 1?")
	c.keys("y")
	c.waitFor("rollback switch", "1 of 1 ended: 1 done", "generation 2 → 1")
	c.back()

	// db01 back to its previous generation with r.
	c.keys("Home", "j", "j", "r")
	c.waitFor("Roll back 1 host to the previous generation?", "db01")
	c.keys("y")
	c.waitFor("rollback switch", "1 of 1 ended: 1 done", "generation 2 → 1")
	c.back()

	// A canary rollout of every host whose canary fails: it halts, and
	// no other host is touched.
	if err := l.Change("canary", lab.ChangeOptions{Fault: "units"}); err != nil {
		t.Fatal(err)
	}
	c.keys("a", "c")
	c.waitFor("Canary rollout to 4 hosts?", "canary canary first")
	c.keys("y")
	s = c.waitFor("halted", "4 of 4 ended")
	if !strings.Contains(s, "1 failed, 3 skipped") {
		t.Errorf("after the canary failed:\n%s", s)
	}
	c.back()
	c.keys("A")

	c.quit()

	// An unknown host key, met by a console that has no connection to the
	// host yet: the prompt shows its fingerprint, y trusts it.
	known := filepath.Join(filepath.Dir(l.FleetPath), "known_hosts")
	port := fmt.Sprintf("]:%d ", hostPort(t, l, "web02"))
	forget(t, known, port)
	c = openConsole(t, bin, l.FleetPath, state, 160, 40)
	c.waitFor("Unknown host key", "web02 at 127.0.0.1", "ED25519 SHA256:")
	if r := row(c.screen(), "web02"); !strings.Contains(r, "unreachable: unknown host key") {
		t.Errorf("web02's row behind the prompt: %q", r)
	}
	c.keys("y")
	c.waitFor("web02: host key SHA256:", "added to "+known)
	c.rowsSay(" up ", "web02")
	if b, _ := os.ReadFile(known); !strings.Contains(string(b), port) {
		t.Errorf("web02's key is not in %s after y", known)
	}
	c.quit()
}

// quit presses q and waits for the console to end.
func (c *tmuxConsole) quit() {
	c.t.Helper()
	c.keys("q")
	deadline := time.Now().Add(time.Minute)
	for exec.Command("tmux", "-S", c.sock, "has-session", "-t", "c").Run() == nil {
		if time.Now().After(deadline) {
			c.t.Fatalf("q did not end the console:\n%s", c.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// forget removes the known_hosts lines of the host whose port is in
// port ("]:2201 ").
func forget(t *testing.T, known, port string) {
	t.Helper()
	b, err := os.ReadFile(known)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var kept []string
	for _, line := range lines {
		if !strings.Contains(line, port) {
			kept = append(kept, line)
		}
	}
	if len(kept) == len(lines) {
		t.Fatalf("no line of %s is for %s", known, port)
	}
	if err := os.WriteFile(known, []byte(strings.Join(kept, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hostPort is the SSH port of a lab host.
func hostPort(t *testing.T, l *lab.Lab, name string) int {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h.Port
		}
	}
	t.Fatalf("no lab host %s", name)
	return 0
}
