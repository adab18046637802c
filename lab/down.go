package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Down stops every process of the lab — each host's sshd and anything else
// running in a host's namespace (sessions, hung or detached activations)
// or in a namespace made from one, and the binary cache's server — and
// removes the namespaces. The lab's
// files stay; Up starts afresh. The namespaces are held open until every
// process is gone (see proc.go), so another lab's processes are never
// taken for this lab's.
func (l *Lab) Down(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	names := l.nsNames()
	set, held := l.hold(names)
	defer closeAll(held)
	err := errors.Join(set.killAll(ctx), l.stopServer(ctx))
	for _, name := range names {
		err = errors.Join(err, l.removeNS(name))
		_ = os.Remove(filepath.Join(l.hostDir(name), "run", "sshd.pid"))
	}
	if isMountPoint(l.nsDir()) {
		if uerr := syscall.Unmount(l.nsDir(), syscall.MNT_DETACH); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}
	return err
}

// hold opens the namespaces of the named hosts that are still mounted and
// returns the procSet that finds the hosts' processes, with the files that
// hold the namespaces: the set is valid until they are closed.
func (l *Lab) hold(names []string) (procSet, []*os.File) {
	set := newProcSet()
	var held []*os.File
	for _, name := range names {
		if f, id, ok := openNS(l.nsFile(name)); ok {
			held = append(held, f)
			set.ns[id] = name
		}
		if id, ok := statID(filepath.Join(l.hostDir(name), "run")); ok {
			set.runs[id] = name
		}
	}
	return set, held
}

// closeAll closes files.
func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// removeNS unmounts and removes the host's namespace file.
func (l *Lab) removeNS(name string) error {
	f := l.nsFile(name)
	if isMountPoint(f) {
		if err := syscall.Unmount(f, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("lab host %s: unmount %s: %w", name, f, err)
		}
	}
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// nsNames returns the lab's hosts and any other host with a namespace file
// in Dir/ns (left by an up that failed before it recorded its hosts).
func (l *Lab) nsNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, h := range l.Hosts {
		names, seen[h.Name] = append(names, h.Name), true
	}
	entries, _ := os.ReadDir(l.nsDir())
	for _, e := range entries {
		if !seen[e.Name()] {
			names = append(names, e.Name())
		}
	}
	return names
}
