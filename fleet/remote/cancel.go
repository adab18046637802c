package remote

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// OpenSSH ignores "signal" requests in sessions that run without
// privilege separation — every root login — so a cancelled command could
// run on unnoticed. Each command therefore reports its PID first (the
// shell execs the command, so the PID stays the command's), and stop
// falls back to killing that PID from a second session.

// pidPreamble makes the remote shell print its PID on stderr before it
// execs the command.
const pidPreamble = "echo " + pidTag + "$$ >&2; exec "

// pidTag starts the PID line that pidFilter removes from stderr.
const pidTag = "nixdeck-pid:"

const (
	// signalGrace is how long a cancelled command gets to stop after the
	// TERM signal request before the fallback kill.
	signalGrace = 500 * time.Millisecond
	// cancelGrace bounds the wait for the PID, the fallback kill and the
	// wait after it; a loaded host can take seconds to start a session.
	cancelGrace = 5 * time.Second
)

// stop ends a cancelled command: a TERM signal request, then `kill -TERM
// PID` in a second session (through sudo when the command used it), then
// `kill -KILL PID` when TERM was ignored, then the session is closed.
// Every step is bounded.
func (c *Client) stop(sess *ssh.Session, waited <-chan error, stderr *pidFilter, privileged bool) {
	_ = sess.Signal(ssh.SIGTERM)
	if c.await(waited, signalGrace) {
		return
	}
	// A command cancelled right after it started may not have reported
	// its PID yet.
	select {
	case <-stderr.decided:
	case <-waited:
		return
	case <-time.After(cancelGrace):
	}
	if pid := stderr.PID(); pid > 0 {
		// A command that ignores TERM too would run on after its session
		// closes (sshd does not kill it), so KILL follows.
		for _, sig := range []string{"-TERM", "-KILL"} {
			ctx, cancel := context.WithTimeout(context.Background(), cancelGrace)
			_ = c.run(ctx, Cmd{Argv: []string{"kill", sig, strconv.Itoa(pid)}, Privileged: privileged}, false)
			cancel()
			if c.await(waited, cancelGrace) {
				break
			}
		}
	}
	sess.Close()
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

// newPIDFilter returns a pidFilter writing to w.
func newPIDFilter(w io.Writer) *pidFilter { return &pidFilter{w: w, decided: make(chan struct{})} }

// pidFilter passes a command's stderr through, except the PID line the
// preamble prints first, whose PID it records. Output that does not start
// with that line (a shell that ignored the preamble) passes unchanged.
type pidFilter struct {
	w       io.Writer
	decided chan struct{} // closed once the first line has been dealt with

	mu   sync.Mutex
	head []byte // stderr before the first newline, while undecided
	done bool   // the first line has been dealt with
	pid  int
}

// Write passes b on, minus the PID line.
func (p *pidFilter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.w.Write(b)
	}
	p.head = append(p.head, b...)
	i := bytes.IndexByte(p.head, '\n')
	if i < 0 && len(p.head) < 64 && bytes.HasPrefix([]byte(pidTag), p.head[:min(len(p.head), len(pidTag))]) {
		return len(b), nil // could still be the PID line
	}
	p.decide()
	rest := p.head
	if i >= 0 && bytes.HasPrefix(p.head, []byte(pidTag)) {
		if pid, err := strconv.Atoi(string(p.head[len(pidTag):i])); err == nil {
			p.pid, rest = pid, p.head[i+1:]
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
func (p *pidFilter) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done && len(p.head) > 0 {
		p.w.Write(p.head)
	}
	p.head = nil
	p.decide()
}

// decide marks the first line as dealt with; p.mu is held.
func (p *pidFilter) decide() {
	if !p.done {
		p.done = true
		close(p.decided)
	}
}

// PID returns the remote command's PID, or 0 when it is not known yet.
func (p *pidFilter) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}
