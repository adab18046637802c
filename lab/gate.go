package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Gates are FIFOs in a host's /run/nixdeck-lab at which a step of an
// activation waits while a test holds them (switch-to-configuration.sh),
// so that the test acts at a known point instead of racing the step.
const (
	// breakSSHGate holds a breakssh activation once its listener is gone.
	breakSSHGate = "breakssh.gate"
	// degradedGate holds a degraded system's crash.
	degradedGate = "degraded.gate"
)

// holdGate makes the named gate on the host and returns the function that
// opens it, once; the gate also opens when this process exits.
func (l *Lab) holdGate(name, gateName string) (release func(), err error) {
	if _, err := l.host(name); err != nil {
		return nil, err
	}
	gate := l.labRun(name, gateName)
	_ = os.Remove(gate)
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		return nil, fmt.Errorf("lab host %s: %w", name, err)
	}
	// Opened for reading and writing, the FIFO neither blocks this open
	// nor the activation's: its read waits for the line release writes,
	// or for the end of file when this process is gone.
	f, err := os.OpenFile(gate, os.O_RDWR, 0)
	if err != nil {
		os.Remove(gate)
		return nil, fmt.Errorf("lab host %s: %w", name, err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			os.Remove(gate)
			f.Write([]byte("go\n"))
			f.Close()
		})
	}, nil
}

// HoldBreakSSH makes the named host's breakssh activations stop, once the
// sshd listener is gone and the activation has said so ("restarting the
// following units: …, sshd.service"), until release is called. A test can
// then cut its connection knowing that the activation is still running,
// instead of racing its end. release is idempotent; the activation also
// goes on when this process exits.
func (l *Lab) HoldBreakSSH(name string) (release func(), err error) {
	return l.holdGate(name, breakSSHGate)
}

// HoldDegraded makes the systems with the degraded fault that the named
// host activates from now on stay healthy until degrade is called, instead
// of turning degraded after their delay (ChangeOptions.DegradeAfter). A
// test holds the host before the activation and calls degrade at the
// point it wants the host to fail, during a soak say; degrade returns once
// `systemctl is-system-running` on the host says degraded, or with ctx's
// error. Only the first call acts; the crash also comes when this process
// exits.
func (l *Lab) HoldDegraded(name string) (degrade func(ctx context.Context) error, err error) {
	release, err := l.holdGate(name, degradedGate)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		release()
		return l.waitDegraded(ctx, name)
	}, nil
}

// waitDegraded waits until the host has failed units, which the crash of
// a degraded system writes after the gate opens, and until the crash is
// over: it writes them holding the host's switch lock and journals after,
// so an activation started at once could still find the lock taken.
// Taking the lock here, and letting it go, waits for that.
func (l *Lab) waitDegraded(ctx context.Context, name string) error {
	failed := l.labRun(name, "failed-units")
	lock := filepath.Join(l.hostDir(name), "run", "nixos", "switch-to-configuration.lock")
	for {
		if b, err := os.ReadFile(failed); err == nil && strings.TrimSpace(string(b)) != "" && switchLockFree(lock) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab host %s: did not turn degraded (is a system with the degraded fault running?): %w", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// switchLockFree reports whether the switch lock at path (a host's, seen
// from outside it) can be taken now; it is let go at once.
func switchLockFree(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return os.IsNotExist(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false
	}
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) == nil
}
