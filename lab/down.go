package lab

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// Down stops every process of the lab — each host's sshd and anything else
// running in a host's namespace (sessions, hung or detached activations) —
// and removes the namespaces. The lab's files stay; Up starts afresh.
func (l *Lab) Down(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	inodes := map[uint64]string{}
	for _, h := range l.Hosts {
		if pid := l.sshdPid(h.Name); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if ino := l.nsInode(h.Name); ino != 0 {
			inodes[ino] = h.Name
		}
	}
	err := killNamespaces(ctx, inodes)
	for _, h := range l.Hosts {
		err = errors.Join(err, l.removeNS(h.Name))
		_ = os.Remove(l.hostDir(h.Name) + "/run/sshd.pid")
	}
	if isMountPoint(l.nsDir()) {
		if uerr := syscall.Unmount(l.nsDir(), syscall.MNT_DETACH); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}
	return err
}
