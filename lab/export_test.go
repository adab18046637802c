package lab

import (
	"context"
	"testing"
)

// What the external tests (package lab_test, which can use labtest to
// start a lab) look at inside a lab.

// ErrBind is errBind, a start of sshd that could not bind its port.
var ErrBind = errBind

// ManifestName is the file in Dir that records the lab's hosts.
const ManifestName = manifestName

// IsMountPoint is isMountPoint.
var IsMountPoint = isMountPoint

// SSHDPid returns the pid of the host's sshd listener, 0 when it is down.
func (l *Lab) SSHDPid(name string) int { return l.sshdPid(name) }

// NSFile is the host's bind-mounted namespace file.
func (l *Lab) NSFile(name string) string { return l.nsFile(name) }

// NSDir is the mount point that holds the namespace files.
func (l *Lab) NSDir() string { return l.nsDir() }

// Held is a lab's host namespaces held open as Down holds them, so that
// they can be looked at after Down without their inode numbers going to
// another lab's new namespaces meanwhile.
type Held struct{ set procSet }

// Hold holds the lab's namespaces open until the test ends.
func Hold(t testing.TB, l *Lab) Held {
	t.Helper()
	var names []string
	for _, h := range l.Hosts {
		names = append(names, h.Name)
	}
	set, files := l.hold(names)
	t.Cleanup(func() { closeAll(files) })
	if len(files) != len(names) {
		t.Fatalf("held %d namespaces of %d hosts", len(files), len(names))
	}
	return Held{set}
}

// Processes returns the processes of the held namespaces, keyed by pid.
func (h Held) Processes() map[int]string { return h.set.scan() }

// Shares reports whether h and other hold a namespace in common.
func (h Held) Shares(other Held) bool {
	for id := range other.set.ns {
		if _, ok := h.set.ns[id]; ok {
			return true
		}
	}
	return false
}

// WaitDegraded waits until the host reports failed units.
func WaitDegraded(ctx context.Context, l *Lab, name string) error { return l.waitDegraded(ctx, name) }

// CacheServerPids returns the processes of the lab's cache server.
func (l *Lab) CacheServerPids() []int { return l.serverPids() }
