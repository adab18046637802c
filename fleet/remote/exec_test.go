package remote

import (
	"bytes"
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

	"nixdeck/fleet/remote/sshtest"
	"nixdeck/internal/testenv"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			cmd := Cmd{Argv: tt.argv, Stdout: &out}
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
			var ee *ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("Run error = %v (%T), want *ExitError", err, err)
			}
			if ee.Code != tt.wantCode || ee.Signal != tt.wantSignal {
				t.Errorf("ExitError code=%d signal=%q, want %d %q", ee.Code, ee.Signal, tt.wantCode, tt.wantSignal)
			}
			if !strings.Contains(err.Error(), "web01") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q should name web01 and contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestStdoutStderrApart(t *testing.T) {
	_, _, c := dialTest(t)
	var out, errOut bytes.Buffer
	err := c.Run(context.Background(), Cmd{
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
	err := c.Run(ctx, Cmd{
		Argv:   []string{"sh", "-c", "head -c 20971520 /dev/zero >&2 & head -c 20971520 /dev/zero; wait"},
		Stdout: &out, Stderr: &errOut,
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
		ignoreTERM    bool
		sleep         string
	}{
		{name: "signal request", sleep: "3031"},
		// OpenSSH ignores signal requests in root sessions: the command is
		// killed by PID from a second session.
		{name: "signals ignored", ignoreSignals: true, sleep: "3032"},
		// A command that ignores TERM too is killed (KILL) by PID.
		{name: "TERM ignored", ignoreSignals: true, ignoreTERM: true, sleep: "3034"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, c := dialConfig(t, sshtest.Config{IgnoreSignals: tt.ignoreSignals}, func(*Target) {})
			// Cancelled once the command runs (its first output), not while
			// it may still be starting.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// It prints its pid first: the check below must find this
			// command, not one of another test run on the machine.
			script := "echo $$; exec sleep " + tt.sleep
			if tt.ignoreTERM {
				script = "trap '' TERM; " + script
			}
			started := newLineSignal()
			go func() { <-started.ready; cancel() }()
			start := time.Now()
			err := c.Run(ctx, Cmd{Argv: []string{"sh", "-c", script}, Stdout: started})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run error = %v, want Canceled", err)
			}
			assertErrContains(t, err, "web01", "sleep "+tt.sleep)
			if d := time.Since(start); d > 5*time.Second && !tt.ignoreTERM || d > 15*time.Second {
				t.Errorf("cancel took %v", d)
			}
			if sig := <-s.Signals(); sig != "TERM" {
				t.Errorf("remote got signal %q, want TERM", sig)
			}
			if pid, _ := strconv.Atoi(strings.TrimSpace(started.String())); pid <= 0 || !testenv.WaitExit(pid, 10*time.Second) {
				t.Errorf("the remote command (pid %d) survived cancellation", pid)
			}
			// The connection survives a cancelled command.
			if err := c.Run(context.Background(), Cmd{Argv: []string{"true"}}); err != nil {
				t.Errorf("Run after cancel: %v", err)
			}
		})
	}
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
	err := c.Run(ctx, Cmd{Argv: []string{"sh", "-c", "trap '' TERM; while :; do echo still here; done"}, Stdout: &out})
	out.returned()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want Canceled", err)
	}
	if d := time.Since(start); d > 15*time.Second {
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
		err := c.Run(ctx, Cmd{Argv: []string{"true"}})
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
			errs <- c.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "echo running; cat >/dev/null"}, Stdin: in, Stdout: out})
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
		done <- c.Run(context.Background(), Cmd{Argv: []string{"sh", "-c", "echo running; cat >/dev/null"}, Stdin: in, Stdout: running})
	}()
	<-running.ready // the one session the server allows is open
	err := c.Run(context.Background(), Cmd{Argv: []string{"true"}})
	feed.Close()
	if err == nil || errors.Is(err, ErrConnectionLost) {
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
			err := c.Run(context.Background(), Cmd{Argv: []string{"id", "-n", "-u"}, Privileged: tt.privileged, Stdout: &out, Stderr: &errOut})
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
