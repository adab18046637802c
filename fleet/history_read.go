package fleet

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// HistoryFilter says which history records ReadHistory returns.
type HistoryFilter struct {
	// Host keeps the records of this node only ("" for every host).
	Host string
	// Last keeps the records of the last Last operations (after the Host
	// filter: the last operations that touched Host); 0 keeps all.
	Last int
}

// maxHistoryLine bounds one line of the history file. Records are written
// bounded (maxRecordText per field), so a longer line is not one of ours.
const maxHistoryLine = 1 << 20

// ReadHistory reads the history file in the state directory dir, oldest
// record first, keeping those f selects. A missing file is an empty
// history. A last line without its newline is a record whose writer died
// mid-write (the writer reported it): it is skipped. Any other line that
// is not a record is an error naming the file and line, rather than a
// history quietly missing what it cannot read.
func ReadHistory(dir string, f HistoryFilter) ([]HistoryRecord, error) {
	path := filepath.Join(dir, HistoryFile)
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var recs []HistoryRecord
	r := bufio.NewReader(file)
	for n := 1; ; n++ {
		line, complete, err := readLine(r)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if line == nil {
			break
		}
		rec, err := parseRecord(line)
		switch {
		case err != nil && !complete:
			// A torn last line: its writer was cut off.
		case err != nil:
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		case f.Host == "" || rec.Host == f.Host:
			recs = append(recs, rec)
		}
		if !complete {
			break
		}
	}
	return lastOps(recs, f.Last), nil
}

// readLine returns the next line without its newline, and whether the
// newline was there; nil at the end of the file.
func readLine(r *bufio.Reader) (line []byte, complete bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxHistoryLine {
			return nil, false, fmt.Errorf("line longer than %d bytes", maxHistoryLine)
		}
		switch {
		case err == nil:
			return line[:len(line)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, false, nil
			}
			return line, false, nil
		}
		return nil, false, err
	}
}

// parseRecord decodes one line; a record must name its operation and host.
func parseRecord(line []byte) (HistoryRecord, error) {
	var rec HistoryRecord
	if len(bytes.TrimSpace(line)) == 0 {
		return rec, errors.New("empty line")
	}
	if err := json.Unmarshal(line, &rec); err != nil {
		return rec, fmt.Errorf("not a history record: %w", err)
	}
	if rec.OpID == "" || rec.Host == "" {
		return rec, errors.New("not a history record: no op_id or host")
	}
	return rec, nil
}

// lastOps keeps the records of the last n operations (0: all), an
// operation's place being where its first record is.
func lastOps(recs []HistoryRecord, n int) []HistoryRecord {
	if n <= 0 {
		return recs
	}
	var order []string
	seen := map[string]bool{}
	for _, r := range recs {
		if !seen[r.OpID] {
			seen[r.OpID] = true
			order = append(order, r.OpID)
		}
	}
	if len(order) <= n {
		return recs
	}
	keep := map[string]bool{}
	for _, id := range order[len(order)-n:] {
		keep[id] = true
	}
	var out []HistoryRecord
	for _, r := range recs {
		if keep[r.OpID] {
			out = append(out, r)
		}
	}
	return out
}
