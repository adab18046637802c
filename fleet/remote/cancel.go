package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"nixdeck/internal/proc"
)

// Stopping a remote command takes more than the SSH "signal" request:
// OpenSSH ignores it in sessions without privilege separation (every root
// login), it reaches only the session's own process, and a command may
// ignore TERM or leave a child that keeps the output pipe open — the
// session then never ends and the child runs on after it. So every command
// reports its process group first, and stop ends the whole group from a
// second session: TERM, then KILL.
//
// sshd makes each session's process a session and process group leader
// (setsid), and nothing in a non-interactive shell moves children to other
// groups, so the group is the command and everything it started, except
// what deliberately detached (setsid, systemd-run). The preamble reads the
// group from /proc rather than assuming $$ because a forced command or
// wrapper may stand between sshd and the shell that runs the command.

// pgidPreamble makes the remote shell print its process group on stderr,
// tagged with the run's nonce, before it execs the command. Only builtins
// run, so it costs no process.
func pgidPreamble(nonce string) string {
	return `g=$$; if read -r s </proc/$$/stat; then set -- ${s##*) }; g=$3; fi 2>/dev/null; ` +
		`echo ` + pgidTag + nonce + `:$g >&2; exec `
}

// pgidTag starts the line that pgidFilter removes from stderr.
const pgidTag = "nixdeck-pgid:"

// newNonce returns a random tag for one run's preamble line, so that no
// output of the command can pass for it.
func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const (
	// signalGrace is how long a stopped command gets to end after a TERM
	// (the signal request, then the group's) before the next step.
	signalGrace = 500 * time.Millisecond
	// startGrace bounds the wait for a stopped command's process group
	// and for each kill's session. A loaded host can take seconds to start
	// a session: with 5 s, a command cancelled right after it started on a
	// machine at load 15 outlived its stop (its group was not known yet, or
	// the kill's session did not start in time) and ran on as an orphan.
	startGrace = 15 * time.Second
	// cancelGrace bounds the wait for the session to end after the KILL:
	// past it the command is taken for unstoppable and its session closed.
	cancelGrace = 5 * time.Second
)

// stop ends a command cut short (cancelled, or over its output bound): a
// TERM signal request, then `kill -TERM -- -PGID` in a second session
// (through sudo when the command used it), then `kill -KILL -- -PGID`, then
// the session is closed. The KILL is sent even when the command ended after
// a TERM, for what it left behind in its group. Every step is bounded.
func (c *Client) stop(sess *ssh.Session, waited <-chan error, stderr *pgidFilter, privileged bool) {
	_ = sess.Signal(ssh.SIGTERM)
	ended := c.await(waited, signalGrace)
	if !ended {
		// A command stopped right after it started may not have reported
		// its group yet.
		select {
		case <-stderr.decided:
		case <-waited:
			ended = true
		case <-time.After(startGrace):
		}
	}
	if g := stderr.PGID(); g > 1 {
		if !ended {
			c.killGroup("-TERM", g, privileged)
			ended = c.await(waited, signalGrace)
		}
		c.killGroup("-KILL", g, privileged)
		if !ended {
			c.await(waited, cancelGrace)
		}
	}
	sess.Close()
}

// killGroup sends sig to process group g from a new session, bounded by
// startGrace; failures (the group is gone) are of no interest.
func (c *Client) killGroup(sig string, g int, privileged bool) {
	ctx, cancel := context.WithTimeout(context.Background(), startGrace)
	defer cancel()
	_ = c.run(ctx, proc.Cmd{Argv: []string{"kill", sig, "--", "-" + strconv.Itoa(g)}, Privileged: privileged, MaxOutput: 4096}, false)
}

// await waits up to d for the session to end; false when it did not.
func (c *Client) await(waited <-chan error, d time.Duration) bool {
	select {
	case <-waited:
		return true
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// newPGIDFilter returns a pgidFilter for the run with nonce, writing to w.
func newPGIDFilter(nonce string, w io.Writer) *pgidFilter {
	return &pgidFilter{w: w, line: []byte(pgidTag + nonce + ":"), decided: make(chan struct{})}
}

// pgidFilter passes a command's stderr through, except the line the
// preamble prints first, whose process group it records. Output that does
// not start with that line (a shell that ignored the preamble) passes
// unchanged.
type pgidFilter struct {
	w       io.Writer
	line    []byte        // the start of the preamble's line, nonce included
	decided chan struct{} // closed once the first line has been dealt with

	mu   sync.Mutex
	head []byte // stderr before the first newline, while undecided
	done bool   // the first line has been dealt with
	pgid int
}

// maxPGIDLine bounds how much stderr is held back waiting for a newline:
// the preamble's line is well under it.
const maxPGIDLine = 64

// Write passes b on, minus the preamble's line.
func (p *pgidFilter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.w.Write(b)
	}
	p.head = append(p.head, b...)
	i := bytes.IndexByte(p.head, '\n')
	if i < 0 && len(p.head) < maxPGIDLine && bytes.HasPrefix(p.line, p.head[:min(len(p.head), len(p.line))]) {
		return len(b), nil // could still be the preamble's line
	}
	p.decide()
	rest := p.head
	if i >= 0 && bytes.HasPrefix(p.head, p.line) {
		if g, err := strconv.Atoi(string(p.head[len(p.line):i])); err == nil {
			p.pgid, rest = g, p.head[i+1:]
		}
	}
	p.head = nil
	if len(rest) > 0 {
		if _, err := p.w.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush passes on anything still held back.
func (p *pgidFilter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done && len(p.head) > 0 {
		p.w.Write(p.head)
	}
	p.head = nil
	p.decide()
}

// decide marks the first line as dealt with; p.mu is held.
func (p *pgidFilter) decide() {
	if !p.done {
		p.done = true
		close(p.decided)
	}
}

// PGID returns the remote command's process group, or 0 when it is not
// known (yet).
func (p *pgidFilter) PGID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pgid
}
