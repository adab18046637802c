package nixtest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Marker returns an environment entry unique to the calling test. Processes
// started with it (and their children, which inherit the environment, Nix
// builders included when it is a derivation attribute) can be found in
// /proc by Procs.
func Marker(t testing.TB) (name, value string) {
	return "NIXDECK_TEST_MARKER", strings.ReplaceAll(t.Name(), "/", "_") + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// Procs returns the pids of the live processes whose environment holds
// name=value (zombies have no environment and do not count).
func Procs(name, value string) []int {
	want := []byte(name + "=" + value + "\x00")
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.HasPrefix(env, want) || bytes.Contains(env, append([]byte{0}, want...)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// WaitProcs waits until at least n processes with name=value exist and
// returns their pids; it fails the test after limit. It is how a test knows
// a command under test has got as far as starting its children. (A process
// in the middle of exec shows no environment for a moment, so one look is
// not enough.) A value on ended (the command's result, nil for none) means
// the command ended before: the test fails with it at once.
func WaitProcs(t testing.TB, name, value string, n int, limit time.Duration, ended <-chan error) []int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		pids := Procs(name, value)
		if len(pids) >= n {
			return pids
		}
		select {
		case err := <-ended:
			t.Fatalf("the command ended before %d processes with %s=%s ran: %v", n, name, value, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes with %s=%s after %s, want %d", len(pids), name, value, limit, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitNoProcs fails the test unless every process with name=value is gone
// within limit. A killed process leaves /proc only once it is reaped, a
// moment after the kill, so this polls rather than looks once; and since a
// process in the middle of exec hides its environment, gone means two
// looks in a row found nothing.
func WaitNoProcs(t testing.TB, name, value string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	empty := 0
	for {
		pids := Procs(name, value)
		if len(pids) == 0 {
			if empty++; empty == 2 {
				return
			}
		} else {
			empty = 0
		}
		if len(pids) > 0 && time.Now().After(deadline) {
			var desc []string
			for _, p := range pids {
				cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
				desc = append(desc, strconv.Itoa(p)+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
			}
			t.Fatalf("processes left after %s:\n%s", limit, strings.Join(desc, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
