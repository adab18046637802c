package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"nixdeck/internal/proc"
	"nixdeck/internal/tail"

	"golang.org/x/crypto/ssh"
)

// A Client is a proc.Runner itself: nix runs its commands on a host
// through it, with no adapter in between.
var _ proc.Runner = (*Client)(nil)

// Run runs cmd in a new session on the shared connection and waits for
// it. Argv is quoted for the remote shell; privileged commands go through
// `sudo -n --` as the host's sudo mode says. It returns nil on exit status
// 0, *proc.ExitError when the command failed or was killed,
// *SudoError when sudo wanted a password, *proc.OutputLimitError when it
// sent more than cmd.MaxOutput, an error wrapping proc.ErrConnectionLost
// when the connection died first, and ctx.Err() wrapped when ctx ended;
// every one names the host. An argv Cmd.Check refuses (a NUL byte) fails
// before anything is sent. A command cut short by ctx or by its output
// bound is stopped with its whole process group (see stop).
func (c *Client) Run(ctx context.Context, cmd proc.Cmd) error {
	return c.run(ctx, cmd, true)
}

// run is Run; limited says whether the command waits for a session slot
// (stop's kill does not: the cancelled command still holds one).
func (c *Client) run(ctx context.Context, cmd proc.Cmd, limited bool) error {
	if err := cmd.Check(); err != nil {
		return c.ep.fail("run", err)
	}
	if cmd.Dir != "" {
		// The directory is on the operator's machine (a local flake's);
		// the same path on a host would be another directory.
		return fmt.Errorf("%s: %s: runs in the local directory %s, which a remote host does not have", c.ep.name, proc.Format(cmd.Argv), cmd.Dir)
	}
	if len(cmd.Env) > 0 {
		return fmt.Errorf("%s: %s: sets local environment variables, which a remote host does not get", c.ep.name, proc.Format(cmd.Argv))
	}
	if err := c.Err(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %s: %w", c.ep.name, proc.Format(cmd.Argv), err)
	}
	sess, release, err := c.openSession(ctx, cmd, limited)
	if err != nil {
		return err
	}
	defer release()
	defer sess.Close()
	nonce := newNonce()
	line, sudo := c.commandLine(cmd, nonce)
	// A cancelled session's output may still be draining when Run
	// returns; the gates keep it from the caller's writers after that.
	outGate, errGate := &gateWriter{w: orDiscard(cmd.Stdout)}, &gateWriter{w: orDiscard(cmd.Stderr)}
	defer outGate.close()
	defer errGate.close()
	errTail := tail.NewBuffer(4096)
	lim := newOutputLimit(cmd.MaxOutput)
	stderr := newPGIDFilter(nonce, lim.writer(io.MultiWriter(errGate, errTail)))
	if cmd.Stdin != nil {
		// Feed stdin ourselves: x/crypto's Wait would otherwise wait for a
		// Stdin reader that may never return after the command exited.
		w, err := sess.StdinPipe()
		if err != nil {
			return c.lost("stdin", err)
		}
		go func() {
			_, _ = io.Copy(w, cmd.Stdin)
			w.Close()
		}()
	}
	sess.Stdout, sess.Stderr = lim.writer(outGate), stderr
	if err := c.start(ctx, sess, line); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %s: starting: %w", c.ep.name, proc.Format(cmd.Argv), ctx.Err())
		}
		return c.lost("start "+proc.Format(cmd.Argv), err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		c.stop(sess, waited, stderr, cmd.Privileged)
		return fmt.Errorf("%s: %s: %w", c.ep.name, proc.Format(cmd.Argv), ctx.Err())
	case <-lim.over:
		c.stop(sess, waited, stderr, cmd.Privileged)
	}
	// Checked after the wait too: a command that ends just past its bound
	// may be seen ending first, and its output is cut all the same.
	if lim.exceeded() {
		return &proc.OutputLimitError{Host: c.ep.name, Argv: cmd.Argv, Limit: lim.max}
	}
	stderr.Flush()
	return c.result(cmd, sudo, errTail.String(), err)
}

// start sends the exec request, bounded by ctx: when ctx ends before the
// host answers, the session is closed (the deferred Close in run), which
// also ends the abandoned request.
func (c *Client) start(ctx context.Context, sess *ssh.Session, line string) error {
	started := make(chan error, 1)
	go func() { started <- sess.Start(line) }()
	select {
	case err := <-started:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxSessions is how many sessions Run keeps open at once on one
// connection: OpenSSH's default MaxSessions, beyond which sshd refuses new
// ones.
const maxSessions = 10

// openSession opens a session, first waiting (bounded by ctx) for one of
// the connection's session slots when limited; release frees the slot.
func (c *Client) openSession(ctx context.Context, cmd proc.Cmd, limited bool) (*ssh.Session, func(), error) {
	release := func() {}
	if limited {
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("%s: %s: waiting for a free session: %w", c.ep.name, proc.Format(cmd.Argv), ctx.Err())
		case <-c.done:
			return nil, nil, c.lost("open session", net.ErrClosed)
		}
		release = func() { <-c.slots }
	}
	// A host too loaded to confirm the channel must not hold Run past
	// ctx; a session confirmed after that is closed, then its slot freed.
	type opened struct {
		sess *ssh.Session
		err  error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := c.conn.NewSession()
		ch <- opened{s, err}
	}()
	var sess *ssh.Session
	var err error
	select {
	case o := <-ch:
		sess, err = o.sess, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.sess != nil {
				o.sess.Close()
			}
			release()
		}()
		return nil, nil, fmt.Errorf("%s: %s: opening a session: %w", c.ep.name, proc.Format(cmd.Argv), ctx.Err())
	}
	var oce *ssh.OpenChannelError
	switch {
	case errors.As(err, &oce):
		// The server refused the session; the connection itself is fine.
		release()
		return nil, nil, c.ep.fail("open session", err)
	case err != nil:
		release()
		return nil, nil, c.lost("open session", err)
	}
	return sess, release, nil
}

// commandLine renders argv for the remote shell, with the sudo prefix
// when needed (sudo reports whether it was added), after the preamble that
// reports the command's process group (see pgidFilter).
func (c *Client) commandLine(cmd proc.Cmd, nonce string) (line string, sudo bool) {
	// run has checked argv (Cmd.Check), so ShellJoin has nothing to refuse.
	line, _ = proc.ShellJoin(cmd.Argv)
	sudo = cmd.Privileged && (c.ep.sudo == "always" || c.ep.sudo == "auto" && c.ep.user != "root")
	if sudo {
		line = "sudo -n -- " + line
	}
	return pgidPreamble(nonce) + line, sudo
}

// result turns a session's end into the error Run documents.
func (c *Client) result(cmd proc.Cmd, sudo bool, stderr string, err error) error {
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if m := sudoComplaint(stderr); sudo && m != "" && ee.ExitStatus() == 1 {
			return &SudoError{Name: c.ep.name, Addr: c.ep.addr(), User: c.ep.user, Argv: cmd.Argv, Message: m}
		}
		x := &proc.ExitError{Host: c.ep.name, Argv: cmd.Argv, Code: ee.ExitStatus(), Stderr: stderr}
		if ee.Signal() != "" {
			x.Code, x.Signal = -1, ee.Signal()
		}
		return x
	}
	if err == nil {
		return nil
	}
	// No exit status: the channel or the connection went away, so the
	// command's fate is unknown.
	return c.lost(proc.Format(cmd.Argv), err)
}

// lost reports a command whose fate is unknown because the session or the
// connection ended; it wraps proc.ErrConnectionLost and, when known, why the
// connection died.
func (c *Client) lost(what string, err error) error {
	select {
	case <-c.done:
	case <-time.After(100 * time.Millisecond):
		// The session ended but the connection may still be closing.
	}
	var died *LostError
	if errors.As(c.Err(), &died) {
		return c.ep.lostError(what, died.Detail)
	}
	return c.ep.lostError(what, fmt.Sprint(err))
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// gateWriter passes writes on to w until it is closed, and drops them
// after. close waits (up to gateWait) for a write in progress, so once it
// returned w is the caller's alone again.
type gateWriter struct {
	mu     sync.Mutex // held while a write is passed on
	w      io.Writer
	closed atomic.Bool
}

// gateWait bounds how long close waits for a write in progress: a
// caller's writer that blocks (a consumer that stopped reading) must not
// hold Run forever.
const gateWait = time.Second

// Write passes p on, or drops it once the gate is closed.
func (g *gateWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed.Load() {
		return len(p), nil
	}
	return g.w.Write(p)
}

// close stops passing writes on and waits for a write in progress.
func (g *gateWriter) close() {
	g.closed.Store(true)
	for deadline := time.Now().Add(gateWait); !g.mu.TryLock(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return
		}
	}
	g.mu.Unlock()
}
