package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LogsDir is the directory of the state directory that holds the
// operations' logs: LogsDir/<op-id>/<host>.log for each host, and
// LogsDir/<op-id>.log for the operation's own lines (the build's output,
// waves, halts), which no node name can collide with.
const LogsDir = "logs"

// Bounds on what a host can make nixdeck write to disk: the file is not a
// terminal, so the host's text is kept as it came, but not without end.
const (
	// maxLogLine bounds one line; the rest is cut with a note of its size.
	maxLogLine = 16 << 10
	// maxHostLog bounds one log file; after it, one note and no more lines.
	maxHostLog = 64 << 20
)

// logTimeFormat stamps each log line: local time with its offset, to the
// millisecond, so lines from several hosts can be put side by side.
const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// hostLogs writes the log files of one operation as lines arrive: each
// line is one write(2), not buffered, so a log read during the operation
// (or after nixdeck died) holds every line reported so far. Callers
// serialise the calls.
type hostLogs struct {
	dir   string // LogsDir/<op-id>
	files map[string]*logFile
}

// logFile is one open log; err is its first write error, after which it
// is no longer written (the error was reported once).
type logFile struct {
	f    *os.File
	size int64
	full bool
	err  error
}

// newHostLogs creates the operation's log directory.
func newHostLogs(stateDir, opID string) (*hostLogs, error) {
	if !nameRE.MatchString(opID) {
		return nil, fmt.Errorf("logs: %q is not an operation id", opID)
	}
	dir := filepath.Join(stateDir, LogsDir, opID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	return &hostLogs{dir: dir, files: map[string]*logFile{}}, nil
}

// path is the log file of host, or of the operation itself for "".
func (l *hostLogs) path(host string) string {
	if host == "" {
		return l.dir + ".log"
	}
	return filepath.Join(l.dir, host+".log")
}

// write appends text to host's log, one line per line of text, each
// stamped with at and tagged. It returns an error the first time writing
// this host's log fails, nil after (the log is given up, once reported).
func (l *hostLogs) write(host string, at time.Time, tag, text string) error {
	lf, err := l.open(host)
	if err != nil || lf.err != nil || lf.full {
		return err
	}
	var b strings.Builder
	prefix := at.Format(logTimeFormat) + " " + tag + " "
	for _, line := range strings.Split(text, "\n") {
		b.WriteString(prefix)
		b.WriteString(boundLine(line))
		b.WriteByte('\n')
	}
	out := b.String()
	if lf.size+int64(len(out)) > maxHostLog {
		lf.full = true
		out = fmt.Sprintf("%s # log cut: it reached %d MiB; the rest of this host's output is not kept\n",
			at.Format(logTimeFormat), maxHostLog>>20)
	}
	n, err := lf.f.WriteString(out)
	lf.size += int64(n)
	if err != nil {
		lf.err = fmt.Errorf("log %s: %w", lf.f.Name(), err)
		return lf.err
	}
	return nil
}

// open returns host's log, creating it on its first line.
func (l *hostLogs) open(host string) (*logFile, error) {
	if lf := l.files[host]; lf != nil {
		return lf, nil
	}
	if host != "" && !nameRE.MatchString(host) {
		// Node names are checked when the fleet loads; this keeps a bad
		// one from naming a file outside the directory all the same.
		err := fmt.Errorf("logs: %q is not a node name", host)
		l.files[host] = &logFile{err: err}
		return nil, err
	}
	f, err := os.OpenFile(l.path(host), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		err = fmt.Errorf("log: %w", err)
		l.files[host] = &logFile{err: err}
		return nil, err
	}
	lf := &logFile{f: f}
	if st, err := f.Stat(); err == nil { // reopened: the bound counts what is there
		lf.size, lf.full = st.Size(), st.Size() >= maxHostLog
	}
	l.files[host] = lf
	return lf, nil
}

// close closes host's log when its host is done, so that an operation on
// many hosts does not hold a descriptor for each; a later line (a
// rollback-all after the host was done) opens it again.
func (l *hostLogs) close(host string) error {
	lf := l.files[host]
	if lf == nil || lf.f == nil || lf.err != nil {
		return nil
	}
	delete(l.files, host)
	err := lf.f.Close()
	if err != nil {
		return fmt.Errorf("log %s: %w", l.path(host), err)
	}
	return nil
}

// closeAll closes every log still open.
func (l *hostLogs) closeAll() error {
	var errs []error
	for host := range l.files {
		errs = append(errs, l.close(host))
	}
	return errors.Join(errs...)
}

// boundLine cuts a line longer than maxLogLine, saying how much was cut.
func boundLine(s string) string {
	if len(s) <= maxLogLine {
		return s
	}
	return fmt.Sprintf("%s … (%d more bytes cut)", s[:maxLogLine], len(s)-maxLogLine)
}
