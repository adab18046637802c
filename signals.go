package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interrupt turns SIGINT (Ctrl-C) and SIGTERM into the cancellation of the
// context every command works under. Commands then stop their hosts'
// work, stop their local children (nix.LocalRunner signals each child's
// process group) and remove their temporary gc roots on the way out, which
// the default of dying on the signal would skip. One signal is enough:
// every wait in nixdeck watches the context, and stopping a child is
// bounded by nix.DefaultStopGrace.
type interrupt struct {
	ctx    context.Context
	cancel context.CancelFunc
	ch     chan os.Signal
	done   chan struct{}

	mu       sync.Mutex
	sig      syscall.Signal
	diverted chan os.Signal // set by divert: signals go there instead
}

// onInterrupt starts listening for the signals.
func onInterrupt() *interrupt {
	ctx, cancel := context.WithCancel(context.Background())
	i := &interrupt{ctx: ctx, cancel: cancel, ch: make(chan os.Signal, 2), done: make(chan struct{})}
	signal.Notify(i.ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		defer close(i.done)
		for s := range i.ch {
			i.mu.Lock()
			if i.sig == 0 {
				i.sig = s.(syscall.Signal)
			}
			to := i.diverted
			i.mu.Unlock()
			if to != nil {
				select {
				case to <- s:
				default: // the command has not taken the last ones yet
				}
				continue
			}
			// Recorded before the cancel: a command that returns because
			// of it always finds the signal in received.
			i.cancel()
		}
	}()
	return i
}

// divert hands the signals to the caller instead of cancelling the
// context, until restore: a rollout stops in steps (the first Ctrl-C
// starts no new host and waits for those in flight, the second stops
// waiting), which a cancellation cannot say. They still count for the
// exit code (received).
func (i *interrupt) divert() (sigs <-chan os.Signal, restore func()) {
	ch := make(chan os.Signal, 2)
	i.mu.Lock()
	i.diverted = ch
	i.mu.Unlock()
	return ch, func() {
		i.mu.Lock()
		i.diverted = nil
		i.mu.Unlock()
	}
}

// stop gives the signals back to their default (the process is about to
// exit) and releases the context.
func (i *interrupt) stop() {
	signal.Stop(i.ch)
	close(i.ch)
	<-i.done
	i.cancel()
}

// received returns the first signal that arrived, if any.
func (i *interrupt) received() (syscall.Signal, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.sig, i.sig != 0
}

// signalExit is the exit code for a run ended by sig, as shells report a
// process killed by it: 130 for SIGINT, 143 for SIGTERM.
func signalExit(sig syscall.Signal) int { return 128 + int(sig) }

// signalName names the signals nixdeck handles as the operator knows them.
func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
