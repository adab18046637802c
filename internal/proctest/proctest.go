// Package proctest checks what a test's remote commands leave behind: it
// finds processes of this machine by a marker in their command line, for
// tests that must prove a remote command (a lab host, a test sshd: all on
// this machine) left nothing running, and watches this process's heap, for
// tests that must prove a flood from a host was not kept.
package proctest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Find returns the PIDs whose command line contains marker; zombies (whose
// command line is empty) do not count.
func Find(marker string) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	self := os.Getpid()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && pid != self {
			pids = append(pids, pid)
		}
	}
	return pids
}

// AssertGone fails the test unless no process with marker in its command
// line remains. Processes killed a moment ago may still be exiting, so it
// looks again until within, then names the survivors and kills them.
func AssertGone(t testing.TB, marker string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pids := Find(marker)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes with %q in their command line survived: %v", marker, pids)
			for _, pid := range pids {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WatchHeap samples the heap in use every few milliseconds until the
// returned function is called, which reports the highest sample.
func WatchHeap() (peak func() uint64) {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var high uint64
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			high = max(high, ms.HeapInuse)
			select {
			case <-stop:
				done <- high
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

// Group returns the PIDs of the process group that pid leads or belongs
// to, pid included: a remote command and everything it started (the
// transport stops a command by its group). Empty when pid is gone.
func Group(pid int) []int {
	pgid := statField(pid, 2)
	if pgid <= 0 {
		return nil
	}
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range paths {
		n, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil && statField(n, 2) == pgid {
			out = append(out, n)
		}
	}
	return out
}

// statField returns field i of /proc/pid/stat counted after the command
// name (0 is the state, 1 the parent, 2 the process group), -1 when it
// cannot be read. The name is in parentheses and may hold spaces and
// parentheses itself: the fields start after the last ')'.
func statField(pid, i int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	j := bytes.LastIndexByte(b, ')')
	if j < 0 {
		return -1
	}
	f := bytes.Fields(b[j+1:])
	if len(f) <= i {
		return -1
	}
	n, err := strconv.Atoi(string(f[i]))
	if err != nil {
		return -1
	}
	return n
}
