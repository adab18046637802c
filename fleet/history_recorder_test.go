package fleet

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/nix"
)

// testOp starts a recorded operation on h: OpStarted and RolloutStarted.
func testOp(t *testing.T, h *History, op string, hosts ...string) {
	t.Helper()
	at := time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)
	for _, e := range []Event{
		OpStarted{EventBase: EventBase{OpID: op, Time: at}, Kind: "deploy", Hosts: hosts},
		RolloutStarted{EventBase: EventBase{OpID: op, Time: at}, Kind: "deploy", Action: "switch",
			Profile: "system", Selector: "@web", Owner: "alice@desk"},
	} {
		if err := h.record(e); err != nil {
			t.Fatal(err)
		}
	}
}

// outcome is host's HostOutcome in op, with a cause of the given size.
func outcome(op, host string, causeLen int) HostOutcome {
	return HostOutcome{EventBase: EventBase{OpID: op, HostName: host, Time: time.Date(2024, 7, 1, 10, 0, 5, 0, time.UTC)},
		Outcome: OutcomeFailed, FromSystem: "/nix/store/aaaa-old", ToSystem: "/nix/store/bbbb-new", FromGen: 41, ToGen: 42,
		Cause: strings.Repeat(host[:1], causeLen), Duration: 1500 * time.Millisecond, LockBroken: "bob@laptop pid=1"}
}

func openHistoryT(t *testing.T, dir string) *History {
	t.Helper()
	h, err := OpenHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// A HostOutcome becomes the host's history record, with the operation's
// details from RolloutStarted.
func TestHistoryRecordsOutcome(t *testing.T) {
	dir := t.TempDir()
	h := openHistoryT(t, dir)
	testOp(t, h, "deploy-1", "web01")
	h.Record(outcome("deploy-1", "web01", 5))
	if f := h.Failures(); f != nil {
		t.Fatal(f)
	}
	recs, err := ReadHistory(dir, HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := record("deploy-1", "web01", 5)
	if len(recs) != 1 || recs[0] != want {
		t.Errorf("records %+v, want %+v", recs, want)
	}
}

// A record that could not be written is a failure naming the host, for
// the reader of the stream to report; the next one is tried again.
func TestHistoryFailures(t *testing.T) {
	dir := t.TempDir()
	h := openHistoryT(t, dir)
	testOp(t, h, "deploy-1", "web01", "web02")
	h.hist.sync = func(*os.File) error { return errors.New("input/output error") }
	h.Record(outcome("deploy-1", "web01", 1))
	f := h.Failures()
	if len(f) != 1 || !strings.Contains(f[0].Error(), "record for web01 not kept") {
		t.Fatalf("failures %v", f)
	}
	if f := h.Failures(); f != nil {
		t.Errorf("failures reported twice: %v", f)
	}
	h.hist.sync = (*os.File).Sync
	h.Record(outcome("deploy-1", "web02", 1))
	if f := h.Failures(); f != nil {
		t.Errorf("after the disk recovered: %v", f)
	}
}

// Each host's log holds its output as it came (escape sequences too: the
// file is not a terminal), its phases and commands, line by line as they
// are recorded; the operation's own lines go to a log beside them.
func TestRecorderLogs(t *testing.T) {
	dir := t.TempDir()
	rec := openHistoryT(t, dir)
	testOp(t, rec, "deploy-1", "web01")
	base := EventBase{OpID: "deploy-1", HostName: "web01", Time: time.Now()}
	hostLog := filepath.Join(dir, LogsDir, "deploy-1", "web01.log")
	events := []Event{
		LogEvent{EventBase: EventBase{OpID: "deploy-1", Time: time.Now()}, Source: "build", Line: "building the system"},
		WaveStarted{EventBase: EventBase{OpID: "deploy-1", Time: time.Now()}, Wave: 1, Canary: true, Hosts: []string{"web01"}},
		PhaseEvent{EventBase: base, Phase: PhaseCopying},
		CopyEvent{EventBase: base, CopyProgress: nix.CopyProgress{PathsTotal: 3}},
		CommandStarted{EventBase: base, Argv: []string{"nix-store", "--serve"}},
		CommandEvent{EventBase: base, Argv: []string{"sh", "-c", "set -eu\nroot=$1\necho $root", "sh", "/nix/store/x"}, Duration: time.Millisecond},
		CommandEvent{EventBase: base, Argv: []string{"nix-env", "-p", "/nix/var/nix/profiles/system", "--set", "/nix/store/x y"},
			Privileged: true, Exit: 1, Duration: 1234 * time.Millisecond, Err: errors.New("nix-env: permission denied")},
		LogEvent{EventBase: base, Source: "activate", Line: "starting \x1b[31mfoo\x1b[0m.service"},
		LogEvent{EventBase: base, Source: "activate", Line: "two\nlines"},
		LogEvent{EventBase: base, Source: "activate", Line: strings.Repeat("x", maxLogLine+10)},
	}
	for _, e := range events {
		if err := rec.record(e); err != nil {
			t.Fatal(err)
		}
	}
	// Written as they come: readable before the host is done.
	got := readLog(t, hostLog)
	want := "T # phase copying\n" +
		"T # $ sh -c 'set -eu … (3 lines)' sh /nix/store/x  [exit 0, 1ms]\n" +
		"T # (root) $ nix-env -p /nix/var/nix/profiles/system --set '/nix/store/x y'  [exit 1, 1.234s]\n" +
		"T # nix-env: permission denied\n" +
		"T [activate] starting \x1b[31mfoo\x1b[0m.service\n" +
		"T [activate] two\nT [activate] lines\n" +
		"T [activate] " + strings.Repeat("x", maxLogLine) + " … (10 more bytes cut)\n"
	if got != want {
		t.Errorf("host log:\n%q\nwant:\n%q", got, want)
	}
	for _, e := range []Event{
		outcome("deploy-1", "web01", 4),
		DoneEvent{EventBase: base, Err: errors.New("web01: activate: failed")},
		OpFinished{EventBase: EventBase{OpID: "deploy-1", Time: time.Now()}},
	} {
		if err := rec.record(e); err != nil {
			t.Fatal(err)
		}
	}
	got = readLog(t, hostLog)
	if tail := "T # outcome: failed: wwww\nT # broke the stale lock of bob@laptop pid=1\nT # finished: web01: activate: failed\n"; !strings.HasSuffix(got, tail) {
		t.Errorf("host log ends:\n%q\nwant the end:\n%q", got, tail)
	}
	opLog := readLog(t, filepath.Join(dir, LogsDir, "deploy-1.log"))
	wantOp := "T # deploy started on web01\nT [build] building the system\nT # canary wave 1: web01\nT # finished\n"
	if opLog != wantOp {
		t.Errorf("operation log:\n%q\nwant:\n%q", opLog, wantOp)
	}
}

// A rollout with History as its Recorder leaves a record per host with
// where it came from and went, and a log per host, by the time its
// stream has ended.
func TestRolloutRecordsHistory(t *testing.T) {
	dir := t.TempDir()
	h := openHistoryT(t, dir)
	f := newFakeSteps(t, "a", "b", "c")
	f.hosts["b"].outcome = nix.OutcomeUnitsFailed
	p := plan(policy(3, 5, OnFailureHalt), nil, "a", "b", "c")
	p.Selector, p.Recorder = "a,b,c", h
	f.hosts["c"].gens = append(f.hosts["c"].gens, newSystem("c")) // c already runs the new system
	f.hosts["c"].profile, f.hosts["c"].current = 2, newSystem("c")
	r := startRollout(t, f, nil, p)
	got, _ := outcomes(t, feed(r.Events()))
	if fs := h.Failures(); fs != nil {
		t.Fatal(fs)
	}
	recs, err := ReadHistory(dir, HistoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	for _, rec := range recs {
		o := got[rec.Host]
		want := HistoryRecord{OpID: r.ID(), Operator: "op@desk", Time: rec.Time, Kind: PlanDeploy, Action: "switch",
			Profile: "system", Selector: "a,b,c", Host: rec.Host, FromSystem: o.FromSystem, ToSystem: o.ToSystem,
			FromGen: o.FromGen, ToGen: o.ToGen, Outcome: string(o.Outcome), Cause: o.Cause, DurationMS: o.Duration.Milliseconds()}
		if rec != want || !rec.Time.Equal(o.At()) {
			t.Errorf("record %+v\nwant %+v", rec, want)
		}
	}
	o := map[string]string{}
	for _, rec := range recs {
		o[rec.Host] = rec.Outcome
	}
	if o["a"] != "done" || o["b"] != "failed" || o["c"] != "unchanged" {
		t.Errorf("outcomes %v", o)
	}
	for _, host := range []string{"a", "b", "c"} {
		log := readLog(t, filepath.Join(dir, LogsDir, r.ID(), host+".log"))
		if !strings.HasPrefix(log, "T # phase queued\n") || !strings.Contains(log, "T # outcome: ") {
			t.Errorf("%s.log:\n%s", host, log)
		}
	}
}

// One History records rollouts that run at once, each with its own
// details and logs; an event of no running operation is not lost quietly.
func TestHistoryTwoOperations(t *testing.T) {
	dir := t.TempDir()
	h := openHistoryT(t, dir)
	at := time.Now()
	for _, op := range []string{"deploy-1", "rollback-2"} {
		h.Record(OpStarted{EventBase: EventBase{OpID: op, Time: at}, Kind: op[:strings.Index(op, "-")], Hosts: []string{"web01"}})
		h.Record(RolloutStarted{EventBase: EventBase{OpID: op, Time: at}, Kind: op[:strings.Index(op, "-")], Selector: "sel-" + op})
	}
	for _, op := range []string{"rollback-2", "deploy-1"} {
		b := EventBase{OpID: op, HostName: "web01", Time: at}
		h.Record(LogEvent{EventBase: b, Source: "activate", Line: "line of " + op})
		h.Record(HostOutcome{EventBase: b, Outcome: OutcomeDone})
		h.Record(OpFinished{EventBase: EventBase{OpID: op, Time: at}})
	}
	if f := h.Failures(); f != nil {
		t.Fatal(f)
	}
	recs, err := ReadHistory(dir, HistoryFilter{})
	if err != nil || len(recs) != 2 || recs[0].Selector != "sel-rollback-2" || recs[1].Selector != "sel-deploy-1" {
		t.Fatalf("records %+v, %v", recs, err)
	}
	for _, op := range []string{"deploy-1", "rollback-2"} {
		if log := readLog(t, filepath.Join(dir, LogsDir, op, "web01.log")); !strings.Contains(log, "[activate] line of "+op+"\n") ||
			strings.Count(log, "[activate]") != 1 {
			t.Errorf("%s: web01.log:\n%s", op, log)
		}
	}
	h.Record(LogEvent{EventBase: EventBase{OpID: "deploy-1", HostName: "web01", Time: at}, Line: "late"})
	if f := h.Failures(); len(f) != 1 || !strings.Contains(f[0].Error(), "deploy-1: event outside the operation") {
		t.Errorf("an event after OpFinished: %v", f)
	}
}
