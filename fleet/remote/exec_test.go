package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/fleet/remote/sshtest"
	"nixdeck/internal/proc"
	"nixdeck/internal/proctest"
)

// dialTest starts a server the fixture trusts and dials it.
func dialTest(t *testing.T) (*sshtest.Server, *fixture, *Client) {
	t.Helper()
	return dialConfig(t, sshtest.Config{}, func(*Target) {})
}

// dialConfig starts a server with cfg, trusts it and dials it with the
// target edit applied; the client is closed when the test ends.
func dialConfig(t *testing.T, cfg sshtest.Config, edit func(*Target)) (*sshtest.Server, *fixture, *Client) {
	t.Helper()
	s := sshtest.Start(t, cfg)
	f := newFixture(t, s)
	f.trust(t, s)
	tg := f.target(s)
	edit(&tg)
	c, err := Dial(context.Background(), tg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return s, f, c
}

func TestRunResults(t *testing.T) {
	_, _, c := dialTest(t)
	tests := []struct {
		name       string
		argv       []string
		stdin      string
		wantOut    string
		wantErr    string
		wantCode   int
		wantSignal string
	}{
		{name: "ok", argv: []string{"echo", "hello"}, wantOut: "hello\n"},
		{name: "exit code", argv: []string{"sh", "-c", "echo boom >&2; exit 3"}, wantCode: 3, wantErr: "boom"},
		{name: "killed", argv: []string{"sh", "-c", "kill -KILL $$"}, wantCode: -1, wantSignal: "KILL"},
		{name: "terminated", argv: []string{"sh", "-c", "kill -TERM $$"}, wantCode: -1, wantSignal: "TERM"},
		{name: "quoting", argv: []string{"printf", "%s|", "a b", "it's", "$HOME", "*", ""}, wantOut: "a b|it's|$HOME|*||"},
		{name: "stdin", argv: []string{"tr", "a-z", "A-Z"}, stdin: "nixos\n", wantOut: "NIXOS\n"},
		// The error quotes the end of a huge stderr line, not all of it.
		{name: "huge stderr line", argv: []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; echo END >&2; exit 1"}, wantCode: 1, wantErr: "exit status 1: …xxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			cmd := proc.Cmd{Argv: tt.argv, Stdout: &out}
			if tt.stdin != "" {
				cmd.Stdin = strings.NewReader(tt.stdin)
			}
			err := c.Run(context.Background(), cmd)
			if out.String() != tt.wantOut && tt.wantOut != "" {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				return
			}
			var ee *proc.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("Run error = %v (%T), want *proc.ExitError", err, err)
			}
			if ee.Code != tt.wantCode || ee.Signal != tt.wantSignal {
				t.Errorf("proc.ExitError code=%d signal=%q, want %d %q", ee.Code, ee.Signal, tt.wantCode, tt.wantSignal)
			}
			// Short: the host, the command line and at most 1 KiB of stderr.
			if !strings.Contains(err.Error(), "web01") || !strings.Contains(err.Error(), tt.wantErr) || len(err.Error()) > 1024+64 {
				t.Errorf("error %q should name web01, contain %q and stay short", err, tt.wantErr)
			}
		})
	}
}

func TestStdoutStderrApart(t *testing.T) {
	_, _, c := dialTest(t)
	var out, errOut bytes.Buffer
	err := c.Run(context.Background(), proc.Cmd{
		Argv:   []string{"sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done"},
		Stdout: &out, Stderr: &errOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "out1\nout2\nout3\n" || errOut.String() != "err1\nerr2\nerr3\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

// countWriter counts bytes, slowly enough that flow control matters.
type countWriter struct {
	mu sync.Mutex
	n  int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += len(p)
	return len(p), nil
}

func TestLargeOutputNoDeadlock(t *testing.T) {
	_, _, c := dialTest(t)
	const size = 20 << 20
	var out, errOut countWriter
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Both streams at once: a reader that drained only stdout would stall
	// once stderr filled the channel window.
	err := c.Run(ctx, proc.Cmd{
		Argv:   []string{"sh", "-c", "head -c 20971520 /dev/zero >&2 & head -c 20971520 /dev/zero; wait"},
		Stdout: &out, Stderr: &errOut, MaxOutput: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.n != size || errOut.n != size {
		t.Errorf("got %d bytes stdout, %d stderr, want %d each", out.n, errOut.n, size)
	}
}

func TestRunCancel(t *testing.T) {
	tests := []struct {
		name          string
		ignoreSignals bool
		script        string // %s is the test's marker, a sleep's duration
		slow          bool   // TERM is ignored: the KILL comes after two graces
	}{
		{name: "signal request", script: "exec sleep %s"},
		// OpenSSH ignores signal requests in root sessions: the command is
		// killed by process group from a second session.
		{name: "signals ignored", ignoreSignals: true, script: "exec sleep %s"},
		// A command that ignores TERM too is killed (KILL).
		{name: "TERM ignored", ignoreSignals: true, script: "trap '' TERM; exec sleep %s", slow: true},
		// A child that ignores TERM and keeps the output pipe open would
		// hold the session (and itself) alive after its parent died.
		{name: "child keeps the pipe open", script: "trap '' TERM; sleep %s & sleep %[1]s", slow: true},
		{name: "child keeps the pipe open, signals ignored", ignoreSignals: true, script: "trap '' TERM; sleep %s & sleep %[1]s", slow: true},
		// A background child that ignores TERM and let go of the pipe
		// outlives its parent and the session; it is still the command's.
		{name: "child left behind", script: "(trap '' TERM; exec sleep %s) >/dev/null 2>&1 & exec sleep %[1]s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, c := dialConfig(t, sshtest.Config{IgnoreSignals: tt.ignoreSignals}, func(*Target) {})
			marker := uniqueSleep()
			// Cancelled once the command runs (its first output), not while
			// it may still be starting.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := newLineSignal()
			go func() { <-started.ready; cancel() }()
			start := time.Now()
			argv := []string{"sh", "-c", "echo started; " + fmt.Sprintf(tt.script, marker)}
			err := c.Run(ctx, proc.Cmd{Argv: argv, Stdout: started})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run error = %v, want Canceled", err)
			}
			assertErrContains(t, err, "web01", "sleep "+marker)
			if d := time.Since(start); d > 5*time.Second && !tt.slow || d > 15*time.Second {
				t.Errorf("cancel took %v", d)
			}
			if sig := <-s.Signals(); sig != "TERM" {
				t.Errorf("remote got signal %q, want TERM", sig)
			}
			proctest.AssertGone(t, marker, 10*time.Second)
			// The connection survives a cancelled command.
			if err := c.Run(context.Background(), proc.Cmd{Argv: []string{"true"}}); err != nil {
				t.Errorf("Run after cancel: %v", err)
			}
		})
	}
}

// uniqueSleep returns a sleep duration no other test uses, which marks
// the processes of one test run in /proc.
func uniqueSleep() string {
	return fmt.Sprintf("3000.%09d", rand.Int64N(1e9))
}

// TestRunCancelUnstoppable: a command that ignores TERM, on a host where
// `kill` does nothing, outlives the signal request and both kills, so Run
// gives up on it and closes its session while its output is still
// arriving. None of that output may reach the caller's writer after Run
// returned: the caller owns it again.
func TestRunCancelUnstoppable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kill"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, c := dialConfig(t, sshtest.Config{Env: []string{"PATH=" + dir + ":" + os.Getenv("PATH")}}, func(*Target) {})
	out := lateWriter{first: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-out.first; cancel() }() // once output flows
	start := time.Now()
	err := c.Run(ctx, proc.Cmd{Argv: []string{"sh", "-c", "trap '' TERM; while :; do echo still here; done"}, Stdout: &out})
	out.returned()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want Canceled", err)
	}
	// Every step of stop is bounded; here the kills do nothing, so it waits
	// out cancelGrace after the KILL, and on a loaded machine the group's
	// report and the kills' sessions may take up to startGrace each.
	if d := time.Since(start); d > 2*signalGrace+3*startGrace+cancelGrace {
		t.Errorf("cancel took %v", d)
	}
	// Whatever the server sent before this connection is closed has been
	// read by then: output that could still reach the writer has had its
	// chance.
	c.Close()
	<-c.Done()
	if n, late := out.counts(); n == 0 || late != 0 {
		t.Errorf("%d bytes written before Run returned, %d after (want some, none)", n, late)
	}
}

// lateWriter counts bytes, and those written after returned was called;
// first is closed at the first write.
type lateWriter struct {
	mu      sync.Mutex
	n, late int
	done    bool
	first   chan struct{}
	once    sync.Once
}

func (w *lateWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.first) })
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		w.late += len(p)
	} else {
		w.n += len(p)
	}
	return len(p), nil
}

func (w *lateWriter) returned() { w.mu.Lock(); w.done = true; w.mu.Unlock() }

func (w *lateWriter) counts() (int, int) { w.mu.Lock(); defer w.mu.Unlock(); return w.n, w.late }

// TestRunCancelWhileStarting: a host too loaded to open a session or to
// start the command must not hold Run beyond its context.
func TestRunCancelWhileStarting(t *testing.T) {
	// The server holds the answer for an hour (or until the test ends):
	// Run can only return through its context.
	for _, cfg := range []sshtest.Config{{OpenDelay: time.Hour}, {ExecDelay: time.Hour}} {
		_, _, c := dialConfig(t, cfg, func(*Target) {})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := c.Run(ctx, proc.Cmd{Argv: []string{"true"}})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%+v: Run error = %v, want DeadlineExceeded", cfg, err)
		}
		assertErrContains(t, err, "web01")
		if d := time.Since(start); d > time.Minute {
			t.Errorf("%+v: Run returned after %v, its context ended after 200ms", cfg, d)
		}
	}
}

func TestSessionsMultiplexed(t *testing.T) {
	// sshd refuses an 11th open session by default; Run queues instead.
	s, _, c := dialConfig(t, sshtest.Config{MaxSessions: maxSessions}, func(*Target) {})
	// Each command says it runs, then waits for its input to end: all
	// slots fill while 5 commands queue, then the commands end.
	var wg sync.WaitGroup
	errs := make(chan error, 15)
	running := make(chan struct{}, 15)
	release := make(chan struct{})
	for range 15 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, feed := io.Pipe()
			go func() { <-release; feed.Close() }()
			out := newLineSignal()
			go func() { <-out.ready; running <- struct{}{} }()
			errs <- c.Run(context.Background(), proc.Cmd{Argv: []string{"sh", "-c", "echo running; cat >/dev/null"}, Stdin: in, Stdout: out})
		}()
	}
	for range maxSessions {
		<-running
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := s.Conns(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
}

func TestSessionRefused(t *testing.T) {
	_, _, c := dialConfig(t, sshtest.Config{MaxSessions: 1}, func(*Target) {})
	done := make(chan error, 1)
	in, feed := io.Pipe()
	defer feed.Close()
	running := newLineSignal()
	go func() {
		done <- c.Run(context.Background(), proc.Cmd{Argv: []string{"sh", "-c", "echo running; cat >/dev/null"}, Stdin: in, Stdout: running})
	}()
	<-running.ready // the one session the server allows is open
	err := c.Run(context.Background(), proc.Cmd{Argv: []string{"true"}})
	feed.Close()
	if err == nil || errors.Is(err, proc.ErrConnectionLost) {
		t.Fatalf("second session: %v, want a refusal that is not a lost connection", err)
	}
	assertErrContains(t, err, "web01 (127.0.0.1:", "open session", "resource shortage")
	if err := <-done; err != nil {
		t.Errorf("first session: %v", err)
	}
}

// fakeSudo returns the environment that puts a fake `sudo` first on the
// server's PATH. With password set it complains like the real one does
// under -n; otherwise it checks for `-n --` and runs the command.
func fakeSudo(t *testing.T, password bool) []string {
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = -n ] && [ \"$2\" = -- ] || { echo \"fake sudo: want -n --, got $*\" >&2; exit 99; }\nshift 2\n"
	if password {
		script += "echo 'sudo: a password is required' >&2\nexit 1\n"
	} else {
		script += "echo SUDO >&2\nexec \"$@\"\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "sudo"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
}

func TestSudo(t *testing.T) {
	tests := []struct {
		name, user, mode string
		privileged       bool
		password         bool
		wantSudo         bool
		wantSudoErr      bool
	}{
		{name: "root needs no sudo", user: "root", privileged: true},
		{name: "auto non-root", user: "deploy", privileged: true, wantSudo: true},
		{name: "unprivileged command", user: "deploy"},
		{name: "never", user: "deploy", mode: "never", privileged: true},
		{name: "always as root", user: "root", mode: "always", privileged: true, wantSudo: true},
		{name: "password required", user: "deploy", privileged: true, password: true, wantSudoErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, c := dialConfig(t, sshtest.Config{Env: fakeSudo(t, tt.password)}, func(tg *Target) { tg.User, tg.Sudo = tt.user, tt.mode })
			var out, errOut bytes.Buffer
			err := c.Run(context.Background(), proc.Cmd{Argv: []string{"id", "-n", "-u"}, Privileged: tt.privileged, Stdout: &out, Stderr: &errOut})
			var se *SudoError
			if tt.wantSudoErr {
				if !errors.As(err, &se) {
					t.Fatalf("Run error = %v, want *SudoError", err)
				}
				assertErrContains(t, err, "web01", "password", "deploy")
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := strings.Contains(errOut.String(), "SUDO"); got != tt.wantSudo {
				t.Errorf("ran through sudo = %v, want %v (stderr %q)", got, tt.wantSudo, errOut.String())
			}
			if !s.SawUser(tt.user) {
				t.Errorf("server did not see login user %q", tt.user)
			}
		})
	}
}

// TestOutputLimit: a host that sends more than the command's bound, on
// either stream, is stopped there, and the caller gets exactly the bytes
// that fit and an error that names the host and the bound.
func TestOutputLimit(t *testing.T) {
	_, _, c := dialTest(t)
	marker := fmt.Sprintf("flood-%d", rand.Int64N(1e9))
	tests := []struct {
		name    string
		argv    []string
		wantErr string
	}{
		{name: "stdout", argv: []string{"yes", marker}, wantErr: "web01 sent more than 1 MiB of output for yes " + marker},
		{name: "stderr", argv: []string{"sh", "-c", "exec yes " + marker + " >&2"}, wantErr: "web01 sent more than 1 MiB of output for sh -c"},
		{name: "both", argv: []string{"sh", "-c", "yes " + marker + " >&2 & exec yes " + marker}, wantErr: "web01 sent more than 1 MiB"},
		{name: "exactly the bound", argv: []string{"head", "-c", "1048576", "/dev/zero"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut countWriter
			err := c.Run(context.Background(), proc.Cmd{Argv: tt.argv, Stdout: &out, Stderr: &errOut, MaxOutput: 1 << 20})
			if tt.wantErr == "" {
				if err != nil || out.n != 1<<20 {
					t.Fatalf("Run = %v with %d bytes, want success with 1 MiB", err, out.n)
				}
				return
			}
			var le *proc.OutputLimitError
			if !errors.As(err, &le) || le.Limit != 1<<20 || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("Run error = %v, want *proc.OutputLimitError %q", err, tt.wantErr)
			}
			if n := out.n + errOut.n; n != 1<<20 {
				t.Errorf("the writers got %d bytes, want the 1 MiB that fit", n)
			}
			proctest.AssertGone(t, marker, 5*time.Second)
		})
	}
	// The default bound applies when the command names none.
	var out countWriter
	err := c.Run(context.Background(), proc.Cmd{Argv: []string{"head", "-c", "17000000", "/dev/zero"}, Stdout: &out})
	var le *proc.OutputLimitError
	if !errors.As(err, &le) || le.Limit != proc.DefaultMaxOutput || out.n != proc.DefaultMaxOutput {
		t.Errorf("17 MB without a bound: %v, %d bytes; want the default bound", err, out.n)
	}
}

// TestLimitWriterSplitsAWrite: the write that crosses the bound passes on
// the part that fits.
func TestLimitWriterSplitsAWrite(t *testing.T) {
	var b bytes.Buffer
	l := newOutputLimit(5)
	w := l.writer(&b)
	for _, s := range []string{"abc", "defg", "h"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if b.String() != "abcde" || !l.exceeded() {
		t.Errorf("passed %q, exceeded %v; want \"abcde\", true", b.String(), l.exceeded())
	}
}
