package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// How the lab finds and stops its processes without touching anyone
// else's.
//
// A lab host's processes are those in the host's mount namespace, and
// those in namespaces made from it (unshare -m, a service's private
// mounts) that still see the host's /run. A namespace is named by its nsfs
// inode number ("mnt:[4026532301]"), and the kernel hands a freed number to
// the next namespace it makes: a number read while one lab was up may name
// another lab's namespace a moment later. So a namespace is compared only
// while it is held open: openNS returns a file descriptor on the namespace
// itself, and while that descriptor is open the kernel keeps the namespace
// and its number, whatever unmounts or kills happen meanwhile. The /run
// directories are held the same way, by the host trees that stay on disk.
//
// Process ids are reused too. Each kill goes through a pidfd opened before
// the process is checked, so a signal reaches the process that was checked
// or none; the same pidfds tell when the killed processes have exited.

// fileID identifies a file by device and inode, from whichever mount
// namespace it is seen.
type fileID struct{ dev, ino uint64 }

// statID returns the fileID of path, following symlinks.
func statID(path string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true
}

// openNS opens path if it is a mount namespace (a bound nsfs file) and
// returns the open file, which holds the namespace, and its fileID. A
// namespace file that is no longer mounted is a plain empty file: ok false.
func openNS(path string) (f *os.File, id fileID, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileID{}, false
	}
	typ, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	var st syscall.Stat_t
	if err != nil || typ != unix.CLONE_NEWNS || syscall.Fstat(int(f.Fd()), &st) != nil {
		f.Close()
		return nil, fileID{}, false
	}
	return f, fileID{uint64(st.Dev), st.Ino}, true
}

// nsID returns the fileID of the named host's namespace while it is
// mounted. The caller compares it at once: only a held namespace
// (openNS) keeps its inode number from being reused.
func (l *Lab) nsID(name string) (fileID, bool) {
	f, id, ok := openNS(l.nsFile(name))
	if ok {
		f.Close()
	}
	return id, ok
}

// procNS returns the fileID of pid's mount namespace; false for a process
// that is gone or a zombie.
func procNS(pid int) (fileID, bool) {
	return statID(filepath.Join("/proc", strconv.Itoa(pid), "ns", "mnt"))
}

// procSet says which processes belong to a lab: those whose mount
// namespace is one of ns (held open by the caller) and those in other
// namespaces whose /run is one of runs. Both map to the host name.
type procSet struct {
	ns, runs map[fileID]string
	self     fileID // this process's namespace: never a lab's
}

// newProcSet returns an empty procSet.
func newProcSet() procSet {
	self, _ := procNS(os.Getpid())
	return procSet{ns: map[fileID]string{}, runs: map[fileID]string{}, self: self}
}

// host returns the lab host that pid belongs to.
func (s procSet) host(pid int) (string, bool) {
	id, ok := procNS(pid)
	if !ok || id == s.self {
		return "", false
	}
	if h, ok := s.ns[id]; ok {
		return h, true
	}
	if len(s.runs) == 0 {
		return "", false
	}
	run, ok := statID(filepath.Join("/proc", strconv.Itoa(pid), "root", "run"))
	if !ok {
		return "", false
	}
	h, ok := s.runs[run]
	return h, ok
}

// scan returns the set's processes, keyed by pid.
func (s procSet) scan() map[int]string {
	found := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if h, ok := s.host(pid); ok {
			found[pid] = h
		}
	}
	return found
}

// signalChecked sends sig to pid through a pidfd if check, run after the
// pidfd was opened, says pid is still the process meant. It returns the
// pidfd (the caller waits on it and closes it), or -1 when nothing was sent.
func signalChecked(pid int, sig syscall.Signal, check func() bool) int {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1
	}
	if !check() || unix.PidfdSendSignal(fd, sig, nil, 0) != nil {
		unix.Close(fd)
		return -1
	}
	return fd
}

// killAll SIGKILLs every process of the set until none is left: a process
// may fork while the others die, so each round rescans after the killed
// ones have exited.
func (s procSet) killAll(ctx context.Context) error {
	for {
		procs := s.scan()
		if len(procs) == 0 {
			return nil
		}
		var fds []int
		for pid := range procs {
			isLab := func() bool { _, ok := s.host(pid); return ok }
			if fd := signalChecked(pid, syscall.SIGKILL, isLab); fd >= 0 {
				fds = append(fds, fd)
			}
		}
		err := waitExited(ctx, fds)
		for _, fd := range fds {
			unix.Close(fd)
		}
		if err != nil {
			var left []string
			for pid, host := range s.scan() {
				left = append(left, fmt.Sprintf("%d (%s)", pid, host))
			}
			if len(left) == 0 {
				return nil
			}
			slices.Sort(left)
			return fmt.Errorf("processes still running in the lab: %s: %w", strings.Join(left, ", "), err)
		}
	}
}

// waitExited waits until the process of every pidfd has exited (a pidfd
// becomes readable then) or ctx ends.
func waitExited(ctx context.Context, pidfds []int) error {
	if len(pidfds) == 0 {
		return nil
	}
	// ctx's end closes the pipe's write end, which wakes poll.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return err
	}
	defer unix.Close(p[0])
	stop := context.AfterFunc(ctx, func() { unix.Close(p[1]) })
	defer func() {
		if stop() { // the AfterFunc will not run: close the write end here
			unix.Close(p[1])
		}
	}()
	fds := []unix.PollFd{{Fd: int32(p[0]), Events: unix.POLLIN}}
	for _, fd := range pidfds {
		fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLIN})
	}
	for left := len(pidfds); left > 0; {
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		if fds[0].Revents != 0 {
			return ctx.Err()
		}
		for i := 1; i < len(fds); i++ {
			if fds[i].Revents != 0 {
				fds[i].Fd, fds[i].Revents = -1, 0 // poll ignores negative fds
				left--
			}
		}
	}
	return nil
}
