package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// HistoryFile is the name of the audit log in the state directory: one
// JSON record per host and operation, one per line, appended and fsync'd.
const HistoryFile = "history.jsonl"

// HistoryRecord is what one operation did to one host: who ran it, when,
// what it changed (system and generation before and after) and how it
// ended. The JSON keys are the history file's format.
type HistoryRecord struct {
	OpID     string    `json:"op_id"`
	Operator string    `json:"operator"`
	Time     time.Time `json:"time"`
	// Kind is the operation ("deploy", "rollback"); Action the
	// switch-to-configuration verb it ran.
	Kind       string `json:"kind"`
	Action     string `json:"action"`
	Profile    string `json:"profile"`
	Selector   string `json:"selector"`
	Host       string `json:"host"`
	FromSystem string `json:"from_system"`
	ToSystem   string `json:"to_system"`
	FromGen    int    `json:"from_gen"`
	ToGen      int    `json:"to_gen"`
	Outcome    string `json:"outcome"`
	Cause      string `json:"cause"`
	DurationMS int64  `json:"duration_ms"`
	LockBroken bool   `json:"lock_broken"`
}

// maxRecordText bounds each text field of a record (a cause quoting a
// host's stderr, a long selector): the full text is in the host's log,
// and a bounded record stays one small write.
const maxRecordText = 1024

// DefaultStateDir is where nixdeck keeps its history and logs without
// Options.StateDir: $XDG_STATE_HOME/nixdeck, else ~/.local/state/nixdeck.
// A relative XDG_STATE_HOME is ignored, as the XDG spec says.
func DefaultStateDir() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "nixdeck"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set XDG_STATE_HOME or HOME: %w", err)
	}
	return filepath.Join(home, ".local", "state", "nixdeck"), nil
}

// historyWriter is the history file opened for appending. Several nixdeck
// processes may append to it at once (two operators on one machine, a
// CI job and an operator): each record is one write(2) on an O_APPEND
// descriptor, under an exclusive flock, followed by fsync before the lock
// is released, so records never interleave and each is on disk before
// the next writer starts.
type historyWriter struct {
	f    *os.File
	sync func(*os.File) error // (*os.File).Sync; tests make it fail
}

func openHistory(dir string) (*historyWriter, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, HistoryFile), os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return &historyWriter{f: f, sync: (*os.File).Sync}, nil
}

// append writes rec as one line and syncs it to disk; the error names the
// file and the host whose record was not kept.
func (h *historyWriter) append(rec HistoryRecord) error {
	line, err := json.Marshal(boundRecord(rec))
	if err != nil {
		return fmt.Errorf("history: %s: %w", rec.Host, err)
	}
	line = append(line, '\n')
	if err := h.locked(func() error { return h.write(line) }); err != nil {
		return fmt.Errorf("history: %s: record for %s not kept: %w", h.f.Name(), rec.Host, err)
	}
	return nil
}

// locked runs fn holding the file's exclusive flock.
func (h *historyWriter) locked(fn func() error) error {
	fd := int(h.f.Fd())
	if err := flock(fd, unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer flock(fd, unix.LOCK_UN)
	return fn()
}

// write appends line, first cutting off a torn last line: one whose
// writer died or failed mid-write (a full disk) and reported it. It is not
// a complete record, and left there it would join the next record into
// one line that no reader can parse.
func (h *historyWriter) write(line []byte) error {
	if err := h.cutTornTail(); err != nil {
		return err
	}
	if _, err := h.f.Write(line); err != nil {
		return err
	}
	if err := h.sync(h.f); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	return nil
}

// cutTornTail truncates the file after its last newline when it does not
// end with one. Only a holder of the flock calls it, so no writer is
// midway through a record.
func (h *historyWriter) cutTornTail() error {
	st, err := h.f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	end := st.Size()
	buf := make([]byte, 4096)
	for off := end; off > 0; {
		n := min(off, int64(len(buf)))
		off -= n
		if _, err := h.f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the last record: %w", err)
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				if off+i+1 == end {
					return nil
				}
				return h.f.Truncate(off + i + 1)
			}
		}
	}
	return h.f.Truncate(0)
}

func (h *historyWriter) close() error { return h.f.Close() }

// flock is unix.Flock, retried when a signal interrupts the wait.
func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// boundRecord cuts the record's free text to maxRecordText bytes each.
func boundRecord(r HistoryRecord) HistoryRecord {
	for _, s := range []*string{&r.Operator, &r.Selector, &r.Cause, &r.FromSystem, &r.ToSystem} {
		*s = cutText(*s, maxRecordText)
	}
	return r
}

// cutText returns s cut to at most n bytes, on a character boundary,
// marked with "…" when something was cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	i := n - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}
