package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// gateName is the FIFO in a host's /run/nixdeck-lab at which a breakssh
// activation waits while a test holds it (switch-to-configuration.sh).
const gateName = "breakssh.gate"

// HoldBreakSSH makes the named host's breakssh activations stop, once the
// sshd listener is gone and the activation has said so ("restarting the
// following units: …, sshd.service"), until release is called. A test can
// then cut its connection knowing that the activation is still running,
// instead of racing its end. release is idempotent; the activation also
// goes on when this process exits.
func (l *Lab) HoldBreakSSH(name string) (release func(), err error) {
	if _, err := l.host(name); err != nil {
		return nil, err
	}
	gate := filepath.Join(l.hostDir(name), "run", "nixdeck-lab", gateName)
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
