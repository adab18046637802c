package testenv

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// WaitExit waits up to within for process pid to exit and reports whether
// it did. It waits on a pidfd, which becomes readable when the process
// exits (a zombie counts as exited: whoever must reap it may be slow), so
// nothing polls; a process already gone counts as exited.
func WaitExit(pid int, within time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return errors.Is(err, unix.ESRCH)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(within)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds()))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return false
		}
		return n > 0
	}
}
