package fleet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// record is host's record in op, with a cause of the given size.
func record(op, host string, causeLen int) HistoryRecord {
	return HistoryRecord{OpID: op, Operator: "alice@desk", Time: time.Date(2024, 7, 1, 10, 0, 5, 0, time.UTC),
		Kind: "deploy", Action: "switch", Profile: "system", Selector: "@web", Host: host,
		FromSystem: "/nix/store/aaaa-old", ToSystem: "/nix/store/bbbb-new", FromGen: 41, ToGen: 42,
		Outcome: "failed", Cause: strings.Repeat(host[:1], causeLen), DurationMS: 1500, LockBroken: true}
}

func openWriter(t *testing.T, dir string) *historyWriter {
	t.Helper()
	w, err := openHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.close() })
	return w
}

func TestHistoryRecordFields(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir)
	if err := w.append(record("deploy-1", "web01", 5)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"op_id":"deploy-1","operator":"alice@desk","time":"2024-07-01T10:00:05Z","kind":"deploy","action":"switch",` +
		`"profile":"system","selector":"@web","host":"web01","from_system":"/nix/store/aaaa-old","to_system":"/nix/store/bbbb-new",` +
		`"from_gen":41,"to_gen":42,"outcome":"failed","cause":"wwwww","duration_ms":1500,"lock_broken":true}` + "\n"
	if string(raw) != want {
		t.Errorf("history file:\n%s\nwant:\n%s", raw, want)
	}
}

// Several operators (separate descriptors, as separate processes have)
// append at once, with records longer than PIPE_BUF: every record is read
// back whole.
func TestHistoryConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	const writers, each = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		hw := openWriter(t, dir)
		op := fmt.Sprintf("deploy-%d", w)
		var mu sync.Mutex // as History's: one descriptor, one record at a time
		for g := range 2 {
			wg.Go(func() {
				for i := range each / 2 {
					r := record(op, fmt.Sprintf("%c%d-%d", 'a'+w, g, i), maxRecordText)
					r.FromSystem = strings.Repeat("f", 3000)
					mu.Lock()
					err := hw.append(r)
					mu.Unlock()
					if err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkHistory(t, dir, writers*each)
}

// checkHistory reads the history and checks that it holds n whole
// records, each with the cause its host name calls for.
func checkHistory(t *testing.T, dir string, n int) {
	t.Helper()
	recs, err := ReadHistory(dir, HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.Host] {
			t.Errorf("record of %s twice", r.Host)
		}
		seen[r.Host] = true
		if want := cutText(strings.Repeat(r.Host[:1], maxRecordText), maxRecordText); r.Cause != want {
			t.Errorf("%s: cause of %d bytes, want %d", r.Host, len(r.Cause), len(want))
		}
	}
}

// The same across processes: the flock, not a mutex of this process,
// keeps the records apart.
func TestHistoryConcurrentProcesses(t *testing.T) {
	if dir := os.Getenv("NIXDECK_TEST_HISTORY_DIR"); dir != "" {
		appendFromProcess(t, dir)
		return
	}
	dir := t.TempDir()
	const procs = 4
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHistoryConcurrentProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), "NIXDECK_TEST_HISTORY_DIR="+dir, "NIXDECK_TEST_HISTORY_WRITER="+strconv.Itoa(p))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	checkHistory(t, dir, procs*50)
}

func appendFromProcess(t *testing.T, dir string) {
	w, _ := strconv.Atoi(os.Getenv("NIXDECK_TEST_HISTORY_WRITER"))
	hw := openWriter(t, dir)
	op := fmt.Sprintf("deploy-%d", w)
	for i := range 50 {
		r := record(op, fmt.Sprintf("%c-%d", 'a'+w, i), maxRecordText)
		r.ToSystem = strings.Repeat("t", 5000)
		if err := hw.append(r); err != nil {
			t.Fatal(err)
		}
	}
}

// Each record is on disk before Record returns: the sync comes after the
// write, and a failed sync is an error naming the host.
func TestHistoryFsync(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir)
	var synced []string
	w.sync = func(f *os.File) error {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		synced = append(synced, string(b))
		if len(synced) == 2 {
			return errors.New("input/output error")
		}
		return nil
	}
	if err := w.append(record("deploy-1", "web01", 3)); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || !strings.Contains(synced[0], `"host":"web01"`) {
		t.Fatalf("synced %q, want the record of web01 written before its sync", synced)
	}
	err := w.append(record("deploy-1", "web02", 3))
	if err == nil || !strings.Contains(err.Error(), "record for web02 not kept") || !strings.Contains(err.Error(), "fsync: input/output error") {
		t.Errorf("failed sync: %v", err)
	}
}

// A record cut off mid-write (its writer died) is skipped when it is the
// last line, and cut away by the next writer, so it never ends up in the
// middle of the file; anything else that is not a record is an error
// naming the line.
func TestHistoryTornLine(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir)
	for _, h := range []string{"a", "b"} {
		if err := w.append(record("deploy-1", h, 3)); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, HistoryFile)
	appendFile(t, path, `{"op_id":"deploy-1","operator":"ali`)
	if recs, err := ReadHistory(dir, HistoryFilter{}); err != nil || len(recs) != 2 {
		t.Fatalf("torn last line: %d records, %v; want 2, nil", len(recs), err)
	}
	if err := w.append(record("deploy-1", "c", 3)); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadHistory(dir, HistoryFilter{})
	if err != nil || len(recs) != 3 || recs[2].Host != "c" {
		t.Fatalf("after the next record: %+v, %v; want a, b, c", recs, err)
	}
	appendFile(t, path, "not json\n"+`{"op_id":"x","host":"d"}`+"\n")
	_, err = ReadHistory(dir, HistoryFilter{})
	if err == nil || !strings.HasPrefix(err.Error(), path+":4: not a history record") {
		t.Errorf("a bad line in the middle: %v", err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestReadHistoryFilter(t *testing.T) {
	dir := t.TempDir()
	w := openWriter(t, dir)
	// Operations 1 and 2 overlap: their records interleave.
	for _, o := range []struct{ op, host string }{
		{"op1", "a"}, {"op2", "b"}, {"op1", "b"}, {"op2", "a"}, {"op3", "c"}, {"op4", "a"},
	} {
		if err := w.append(record(o.op, o.host, 1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		f    HistoryFilter
		want string
	}{
		{HistoryFilter{}, "op1/a op2/b op1/b op2/a op3/c op4/a"},
		{HistoryFilter{Host: "a"}, "op1/a op2/a op4/a"},
		{HistoryFilter{Last: 2}, "op3/c op4/a"},
		{HistoryFilter{Last: 3}, "op2/b op2/a op3/c op4/a"},
		{HistoryFilter{Host: "b", Last: 1}, "op1/b"},
		{HistoryFilter{Host: "a", Last: 2}, "op2/a op4/a"},
		{HistoryFilter{Host: "zz"}, ""},
		{HistoryFilter{Last: 10}, "op1/a op2/b op1/b op2/a op3/c op4/a"},
	} {
		recs, err := ReadHistory(dir, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.OpID+"/"+r.Host)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%+v: %s, want %s", tc.f, g, tc.want)
		}
	}
	// No history yet is an empty one.
	if recs, err := ReadHistory(t.TempDir(), HistoryFilter{}); err != nil || len(recs) != 0 {
		t.Errorf("missing file: %v, %v", recs, err)
	}
}

func TestDefaultStateDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	t.Setenv("HOME", "/home/alice")
	if d, _ := DefaultStateDir(); d != "/var/state/nixdeck" {
		t.Errorf("with XDG_STATE_HOME: %s", d)
	}
	for _, x := range []string{"", "relative/state"} {
		t.Setenv("XDG_STATE_HOME", x)
		if d, _ := DefaultStateDir(); d != "/home/alice/.local/state/nixdeck" {
			t.Errorf("XDG_STATE_HOME=%q: %s", x, d)
		}
	}
}
