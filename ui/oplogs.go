package ui

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"nixdeck/fleet"
	"nixdeck/ui/logview"
)

// opLogsMsg is a past operation's logs as read from the state directory.
type opLogsMsg struct {
	id    string
	hosts []string
	buf   *logview.Buffers
	err   error
}

// opOwnLog names the operation's own log (LogsDir/<op-id>.log) in the
// pane: no node is called that.
const opOwnLog = "(operation)"

// openOpLogs reads the logs of a past operation, host by host, for the
// log pane. The read happens in the command; the model only gets the
// lines, already in their ring buffers.
func (m *Model) openOpLogs(op opSummary) tea.Cmd {
	dir, capacity := m.cfg.StateDir, m.cfg.LogLines
	hosts := slices.Clone(op.hosts)
	return func() tea.Msg { return readOpLogs(dir, op.id, hosts, capacity) }
}

// readOpLogs reads LogsDir/<id>/<host>.log for each host with a log (the
// hosts of its records first, in their order) and LogsDir/<id>.log.
func readOpLogs(stateDir, id string, hosts []string, capacity int) opLogsMsg {
	msg := opLogsMsg{id: id, buf: logview.NewBuffers(capacity)}
	// The id and the host names come from the history file: each must
	// name a file in LogsDir, not lead elsewhere.
	if !plainName(id) {
		msg.err = fmt.Errorf("%q is not an operation id", id)
		return msg
	}
	dir := filepath.Join(stateDir, fleet.LogsDir, id)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		msg.err = err
		return msg
	}
	for _, e := range entries {
		if h, ok := strings.CutSuffix(e.Name(), ".log"); ok && e.Type().IsRegular() && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, h := range hosts {
		if plainName(h) && readLog(filepath.Join(dir, h+".log"), h, msg.buf) {
			msg.hosts = append(msg.hosts, h)
		}
	}
	if readLog(dir+".log", opOwnLog, msg.buf) {
		msg.hosts = append(msg.hosts, opOwnLog)
	}
	if len(msg.hosts) == 0 {
		msg.err = fmt.Errorf("no logs of %s in %s", id, filepath.Dir(dir))
	}
	return msg
}

// maxLogFileLine bounds a line read back: nixdeck writes them shorter
// (the log files cut theirs), so a longer one was not written by it.
const maxLogFileLine = 1 << 20

// readLog appends the lines of the file at path to buf under name; it
// reports whether the file was there. A file that cannot be read to its
// end says so in its last line.
func readLog(path, name string, buf *logview.Buffers) bool {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			buf.Append(name, "cannot read "+path+": "+err.Error())
			return true
		}
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLogFileLine)
	for sc.Scan() {
		buf.Append(name, sc.Text())
	}
	if err := sc.Err(); err != nil {
		buf.Append(name, "stopped reading "+path+": "+err.Error())
	}
	return true
}

// showOpLogs shows what openOpLogs read.
func (m *Model) showOpLogs(msg opLogsMsg) tea.Cmd {
	if msg.err != nil {
		return m.say(msg.err.Error(), true)
	}
	m.opLog = logview.New(m.st, m.keys, msg.buf)
	m.opLog.SetHosts(msg.hosts)
	m.screen = screenOpLogs
	return nil
}

// plainName reports whether s names a file in a directory, not a path.
func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}
