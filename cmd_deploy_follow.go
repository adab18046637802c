package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/charmbracelet/x/term"

	"nixdeck/fleet"
)

// session is what a rollout command talks to: the operator (stdin, stdout,
// stderr; a terminal or not) and the signals.
type session struct {
	in          io.Reader
	out, errOut io.Writer
	// terminal reports whether someone can answer on in.
	terminal func() bool
	// divert takes the signals over for a rollout (interrupt.divert).
	divert func() (<-chan os.Signal, func())
}

// stdSession is the process's session; terminal, when set, replaces the
// check of stdin (tests).
func stdSession(intr *interrupt, terminal func() bool) session {
	if terminal == nil {
		terminal = func() bool { return term.IsTerminal(os.Stdin.Fd()) }
	}
	return session{in: os.Stdin, out: os.Stdout, errOut: os.Stderr, terminal: terminal, divert: intr.divert}
}

// mayAsk refuses to start a command that changes hosts when no one can
// confirm it, unless --yes says no one needs to.
func (s session) mayAsk(yes bool, cmd string) error {
	if yes || s.terminal() {
		return nil
	}
	return exitCode(2, fmt.Errorf("%s: stdin is not a terminal, so no one can confirm: pass --yes to go ahead without asking", cmd))
}

// confirm asks question on stderr and waits for y or yes on stdin, unless
// --yes. Anything else, or the end of the input, is a no; Ctrl-C stops
// the wait (the command's context).
func (s session) confirm(ctx context.Context, yes bool, question string) error {
	if yes {
		return nil
	}
	fmt.Fprintf(s.errOut, "%s [y/N] ", question)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(s.in).ReadString('\n')
		answer <- line
	}()
	select {
	case a := <-answer:
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "y", "yes":
			return nil
		}
		return exitCode(1, errNotConfirmed)
	case <-ctx.Done():
		fmt.Fprintln(s.errOut)
		return ctx.Err()
	}
}

// eventSource is a rollout's stream (*fleet.Stream).
type eventSource interface {
	Next(ctx context.Context) (fleet.Event, bool)
}

// follow prints a rollout's events until it ends, then its summary, and
// returns its exit error. Meanwhile the signals are the operator's
// controls: the first Ctrl-C (or SIGTERM) aborts — no new host starts and
// the ones in flight finish or roll back — and the second stops waiting
// for them; the printer says which hosts are in flight. After each event
// it reports what the history could not keep (lost).
func follow(s session, ro interface{ Abort() }, events eventSource, p *printer, lost func() []error) error {
	sigs, restore := s.divert()
	defer restore()
	p.abortHint = "press Ctrl-C again to stop waiting"
	var signalled atomic.Int32 // the first signal
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig := <-sigs:
				if s, ok := sig.(syscall.Signal); ok {
					signalled.CompareAndSwap(0, int32(s))
				}
				ro.Abort()
			case <-done:
				return
			}
		}
	}()
	for {
		e, ok := events.Next(context.Background())
		if !ok {
			break
		}
		p.event(e)
		p.lost(lost())
	}
	p.sum.signal = syscall.Signal(signalled.Load())
	return p.finish()
}
