package nix

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"nixdeck/internal/proc"
)

// fakeRunner is a Runner for unit tests: it expects an exact sequence of
// commands (argv, and stdin when the test names it) and answers each with
// canned output, the way lazygit's git_commands tests script git. Every
// unexpected or missing command fails the test. Consecutive calls marked
// anyOrder (commands the code runs concurrently) may come in any order.
type fakeRunner struct {
	t     testing.TB
	mu    sync.Mutex
	calls []*fakeCall
	next  int
}

// fakeCall is one expected command and its scripted reply.
type fakeCall struct {
	argv       []string
	stdin      *string
	privileged bool
	dir        string
	env        []string
	stdout     string
	stderr     string
	err        error
	block      bool
	anyOrder   bool
	ran        bool
	gotStdin   string
}

// newFakeRunner returns a fakeRunner that checks, when the test ends, that
// every expected command ran.
func newFakeRunner(t testing.TB) *fakeRunner {
	f := &fakeRunner{t: t}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.next != len(f.calls) {
			t.Errorf("fake runner: %d expected commands never ran, first: %s", len(f.calls)-f.next, proc.Format(f.calls[f.next].argv))
		}
	})
	return f
}

// expect adds the next expected command.
func (f *fakeRunner) expect(argv ...string) *fakeCall {
	c := &fakeCall{argv: argv}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	return c
}

// in requires the command's stdin to equal s.
func (c *fakeCall) in(s string) *fakeCall { c.stdin = &s; return c }

// priv requires the command to be marked Privileged.
func (c *fakeCall) priv() *fakeCall { c.privileged = true; return c }

// inDir requires the command to run in the local directory d (Cmd.Dir);
// without it the command must have no Dir.
func (c *fakeCall) inDir(d string) *fakeCall { c.dir = d; return c }

// withEnv requires the command to add exactly env to its environment
// (Cmd.Env); without it the command must add nothing.
func (c *fakeCall) withEnv(env ...string) *fakeCall { c.env = env; return c }

// out sets what the command prints on stdout.
func (c *fakeCall) out(s string) *fakeCall { c.stdout = s; return c }

// errout sets what the command prints on stderr.
func (c *fakeCall) errout(s string) *fakeCall { c.stderr = s; return c }

// exit makes the command fail with the given status.
func (c *fakeCall) exit(code int) *fakeCall {
	c.err = &ExitError{Argv: c.argv, Code: code, Stderr: c.stderr}
	return c
}

// unordered lets the command come in any order among its neighbours that
// are unordered too.
func (c *fakeCall) unordered() *fakeCall { c.anyOrder = true; return c }

// hang makes the command run until its context ends.
func (c *fakeCall) hang() *fakeCall { c.block = true; return c }

// fail makes the command fail with err (e.g. a lost connection).
func (c *fakeCall) fail(err error) *fakeCall { c.err = err; return c }

// Run implements Runner.
func (f *fakeRunner) Run(ctx context.Context, cmd Cmd) error {
	f.mu.Lock()
	if f.next >= len(f.calls) {
		f.mu.Unlock()
		f.t.Errorf("fake runner: unexpected command %s", proc.Format(cmd.Argv))
		return fmt.Errorf("unexpected command %s", proc.Format(cmd.Argv))
	}
	c := f.calls[f.next]
	for j := f.next; c.anyOrder && j < len(f.calls) && f.calls[j].anyOrder; j++ {
		if !f.calls[j].ran && slices.Equal(f.calls[j].argv, cmd.Argv) {
			c = f.calls[j]
			break
		}
	}
	c.ran = true
	for f.next < len(f.calls) && f.calls[f.next].ran {
		f.next++
	}
	f.mu.Unlock()
	if !slices.Equal(c.argv, cmd.Argv) {
		f.t.Errorf("fake runner: command\n got: %s\nwant: %s", proc.Format(cmd.Argv), proc.Format(c.argv))
		return fmt.Errorf("wrong command %s", proc.Format(cmd.Argv))
	}
	if c.privileged != cmd.Privileged {
		f.t.Errorf("fake runner: %s: Privileged = %v, want %v", proc.Format(cmd.Argv), cmd.Privileged, c.privileged)
	}
	if c.dir != cmd.Dir {
		f.t.Errorf("fake runner: %s: Dir = %q, want %q", proc.Format(cmd.Argv), cmd.Dir, c.dir)
	}
	if !slices.Equal(c.env, cmd.Env) {
		f.t.Errorf("fake runner: %s: Env = %q, want %q", proc.Format(cmd.Argv), cmd.Env, c.env)
	}
	// A command that fails at once leaves its input unread, unless the
	// test names it: a conversation (converse) writes only after replies.
	if cmd.Stdin != nil && (c.stdin != nil || c.err == nil) {
		b, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			return err
		}
		c.gotStdin = string(b)
	}
	if c.stdin != nil && *c.stdin != c.gotStdin {
		f.t.Errorf("fake runner: %s: stdin\n got: %q\nwant: %q", proc.Format(cmd.Argv), c.gotStdin, *c.stdin)
	}
	if c.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if cmd.Stdout != nil && c.stdout != "" {
		io.Copy(cmd.Stdout, strings.NewReader(c.stdout))
	}
	if cmd.Stderr != nil && c.stderr != "" {
		io.Copy(cmd.Stderr, strings.NewReader(c.stderr))
	}
	return c.err
}
