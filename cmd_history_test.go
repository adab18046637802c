package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
)

// writeHistory writes records as the history file of a state directory.
func writeHistory(t *testing.T, recs ...fleet.HistoryRecord) string {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, fleet.HistoryFile), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func historyRecords() []fleet.HistoryRecord {
	at := time.Date(2024, 7, 1, 10, 0, 0, 0, time.Local)
	rec := func(op, kind, host, outcome string, from, to int, cause string) fleet.HistoryRecord {
		return fleet.HistoryRecord{OpID: op, Operator: "alice@desk", Time: at, Kind: kind, Action: "switch", Profile: "system",
			Selector: "@web", Host: host, FromGen: from, ToGen: to, Outcome: outcome, Cause: cause, DurationMS: 2500}
	}
	broke := rec("deploy-2", "deploy", "web01", "done", 42, 43, "")
	broke.LockBroken = true
	return []fleet.HistoryRecord{
		rec("deploy-1", "deploy", "web01", "done", 41, 42, ""),
		rec("deploy-1", "deploy", "web02", "rolled back", 41, 42, "rolled back: no SSH after activation"),
		broke,
		rec("rollback-3", "rollback", "web01", "done", 43, 42, "\x1b[2Jevil"),
	}
}

func TestHistoryTable(t *testing.T) {
	c := historyCmd{stateDir: writeHistory(t, historyRecords()...)}
	var out bytes.Buffer
	if err := c.run(&out); err != nil {
		t.Fatal(err)
	}
	want := "TIME                 OPERATION   OPERATOR    ACTION    HOST   GENERATION  OUTCOME      DURATION  CAUSE\n" +
		"2024-07-01 10:00:00  deploy-1    alice@desk  switch    web01  41 → 42     done         2.5s      -\n" +
		"2024-07-01 10:00:00  deploy-1    alice@desk  switch    web02  41 → 42     rolled back  2.5s      rolled back: no SSH after activation\n" +
		"2024-07-01 10:00:00  deploy-2    alice@desk  switch    web01  42 → 43     done         2.5s      broke a stale lock\n" +
		"2024-07-01 10:00:00  rollback-3  alice@desk  rollback  web01  43 → 42     done         2.5s      \\x1b[2Jevil\n"
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	c.Host, c.Last = "web01", 2
	if err := c.run(&out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Contains(got, "deploy-1") || !strings.Contains(got, "deploy-2") || !strings.Contains(got, "rollback-3") {
		t.Errorf("--host web01 --last 2:\n%s", got)
	}
}

// --json: the records as the file keeps them, host text exact.
func TestHistoryJSON(t *testing.T) {
	recs := historyRecords()
	c := historyCmd{stateDir: writeHistory(t, recs...), JSON: true, Host: "web02"}
	var out bytes.Buffer
	if err := c.run(&out); err != nil {
		t.Fatal(err)
	}
	var got []fleet.HistoryRecord
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Cause != recs[1].Cause || !strings.Contains(out.String(), `"duration_ms": 2500`) {
		t.Errorf("JSON:\n%s", out.String())
	}
	// An empty history is an empty array, not null.
	out.Reset()
	c = historyCmd{stateDir: t.TempDir(), JSON: true}
	if err := c.run(&out); err != nil || out.String() != "[]\n" {
		t.Errorf("empty history: %q, %v", out.String(), err)
	}
}

// A history that is not one says where; --last must count something.
func TestHistoryErrors(t *testing.T) {
	dir := writeHistory(t, historyRecords()...)
	f, err := os.OpenFile(filepath.Join(dir, fleet.HistoryFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("garbage\n{}\n")
	f.Close()
	c := historyCmd{stateDir: dir}
	if err := c.run(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), fleet.HistoryFile+":5: not a history record") {
		t.Errorf("garbage: %v", err)
	}
	c = historyCmd{stateDir: dir, Last: -1}
	var ee *exitError
	if err := c.run(&bytes.Buffer{}); !errors.As(err, &ee) || ee.code != 2 {
		t.Errorf("--last -1: %v", err)
	}
	var out bytes.Buffer
	c = historyCmd{stateDir: t.TempDir()}
	if err := c.run(&out); err != nil || out.String() != "no operations recorded\n" {
		t.Errorf("no history: %q, %v", out.String(), err)
	}
}
