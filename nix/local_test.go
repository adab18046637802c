package nix_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/internal/proc"
	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// signalWriter closes ready when the output holds want.
type signalWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	want  string
	ready chan struct{}
}

func newSignalWriter(want string) *signalWriter {
	return &signalWriter{want: want, ready: make(chan struct{})}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.ready)
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitRun returns the result of a cancelled command, failing the test if
// it does not come: a child holding the output pipe must not keep Run
// waiting past the grace period.
func waitRun(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of the cancel")
		return nil
	}
}

// pgid reads a process's group from /proc/PID/stat (the field after the
// parenthesised command name, then state and parent).
func pgid(t *testing.T, pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	g, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestLocalRunnerKillsGroup runs a shell whose children ignore TERM: on
// cancel the command returns once the grace is over and none of them is
// left, and the command ran in a process group of its own (so that the
// terminal's Ctrl-C reaches only nixdeck).
func TestLocalRunnerKillsGroup(t *testing.T) {
	name, value := nixtest.Marker(t)
	r := nix.LocalRunner{Env: append(os.Environ(), name+"="+value), StopGrace: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, nix.Cmd{Argv: []string{"sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000 & wait"}})
	}()
	pids := nixtest.WaitProcs(t, name, value, 3, 10*time.Second, done) // the shell and two sleeps
	for _, p := range pids {
		if g := pgid(t, p); g == os.Getpid() || g == pgid(t, os.Getpid()) {
			t.Errorf("process %d is in nixdeck's process group %d", p, g)
		}
	}
	cancel()
	if err := waitRun(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	nixtest.WaitNoProcs(t, name, value, 10*time.Second)
}

// TestLocalRunnerTermFirst checks that a cancelled command is asked to stop
// with SIGTERM before any SIGKILL: Nix needs it to stop its builders.
func TestLocalRunnerTermFirst(t *testing.T) {
	name, value := nixtest.Marker(t)
	r := nix.LocalRunner{Env: append(os.Environ(), name+"="+value)}
	out := newSignalWriter("started")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, nix.Cmd{Argv: []string{"sh", "-c", "trap 'echo got TERM; exit 0' TERM; sleep 1000 & echo started; wait"}, Stdout: out})
	}()
	select {
	case <-out.ready:
	case err := <-done:
		t.Fatalf("the command ended before it set its trap: %v", err)
	}
	cancel()
	if err := waitRun(t, done); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	if !strings.Contains(out.String(), "got TERM") {
		t.Errorf("the command did not see SIGTERM; output %q", out.String())
	}
	nixtest.WaitNoProcs(t, name, value, 10*time.Second)
}

// TestLocalRunnerDir: a command with Dir runs there, whatever the
// directory's name; one without runs in nixdeck's own directory.
func TestLocalRunnerDir(t *testing.T) {
	dir := t.TempDir() + "/my fleet #1?"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// pwd -P prints the physical path, so compare with symlinks resolved.
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	own, err := os.Getwd()
	if err == nil {
		own, err = filepath.EvalSymlinks(own)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, want string }{{dir, dir}, {"", own}} {
		var out strings.Builder
		if err := (nix.LocalRunner{}).Run(context.Background(), nix.Cmd{Argv: []string{"pwd", "-P"}, Dir: c.dir, Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSuffix(out.String(), "\n"); got != c.want {
			t.Errorf("Dir %q: ran in %q, want %q", c.dir, got, c.want)
		}
	}
}

// An argument with a NUL byte is refused before anything starts: the
// command that would have created the file never runs.
func TestLocalRunnerRefusesNUL(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	err := nix.LocalRunner{}.Run(context.Background(), nix.Cmd{Argv: []string{"sh", "-c", `touch "$0"`, marker, "a\x00b"}})
	if !errors.Is(err, proc.ErrNUL) {
		t.Errorf("err = %v, want proc.ErrNUL", err)
	}
	if _, serr := os.Stat(marker); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the command ran: %v", serr)
	}
}

// TestLocalRunnerUnwrittenStdin: a command that exits without reading
// its stdin, a pipe nobody has written or closed yet (as a serve
// session's is while it waits for the greeting), ends Run all the same,
// with its own exit status. os/exec alone would wait for its copy from
// that pipe for ever.
func TestLocalRunnerUnwrittenStdin(t *testing.T) {
	stdin, w := io.Pipe()
	defer w.Close()
	done := make(chan error, 1)
	go func() {
		done <- nix.LocalRunner{}.Run(context.Background(), nix.Cmd{Argv: []string{"sh", "-c", "echo gone >&2; exit 3"}, Stdin: stdin})
	}()
	select {
	case err := <-done:
		var ee *proc.ExitError
		if !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(ee.Stderr, "gone") {
			t.Errorf("err = %v, want exit status 3 with its stderr", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of the command's exit")
	}
}
