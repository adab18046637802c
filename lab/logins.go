package lab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxSSHDLog bounds how much of a host's sshd log Logins reads: far above
// what thousands of logins write (about 1 KiB each at LogLevel VERBOSE).
const maxSSHDLog = 256 << 20

// acceptedLogin starts the line sshd logs for each login it lets in.
var acceptedLogin = []byte("Accepted publickey for ")

// Logins returns how many SSH logins the named host's sshd has let in
// since the lab came up, counted from its log (sshd -E): a test reads it
// before and after an operation to count the operation's connections.
// sshd's privileged monitor logs a login before it starts the process that
// serves the connection's sessions, so a connection that has run a
// command is counted; one that only authenticated may not be yet.
func (l *Lab) Logins(name string) (int, error) {
	if _, err := l.host(name); err != nil {
		return 0, err
	}
	path := filepath.Join(l.hostDir(name), "sshd.log")
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("lab host %s: %w", name, err)
	}
	defer f.Close()
	n, err := countLogins(f, maxSSHDLog)
	if err != nil {
		return 0, fmt.Errorf("lab host %s: %s: %w", name, path, err)
	}
	return n, nil
}

// countLogins counts the complete lines of r that record a login, reading
// at most limit bytes; a line still being written is left for the next
// count.
func countLogins(r io.Reader, limit int) (int, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, int64(limit)+1), 64<<10)
	tooLarge := fmt.Errorf("sshd log larger than %d bytes", limit)
	n, total := 0, 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if total > limit {
			return n, tooLarge
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			// A line longer than the buffer is no login line: skip it whole.
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				if total += len(line); total > limit {
					return n, tooLarge
				}
			}
			if err == io.EOF {
				return n, nil
			} else if err != nil {
				return n, err
			}
		case err == io.EOF:
			return n, nil
		case err != nil:
			return n, err
		case bytes.HasPrefix(line, acceptedLogin):
			n++
		}
	}
}
