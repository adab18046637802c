package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/nix"
)

func testStatuses(t *testing.T) []fleet.HostStatus {
	t.Helper()
	// hostStateScript's records, one per line here for reading.
	st, err := nix.ParseHostState(strings.ReplaceAll(`hostname=web1
find=1
current=/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05.20240701.89abcde
booted=/nix/store/0c8wq1ks8fbi3v6d81dmyrbgxhx8grr0-nixos-system-web1-24.05.20240601.abcdef0
profile_link=system-2-link
entry=system-1-link
entry_time=1717236000
entry_path=/nix/store/0c8wq1ks8fbi3v6d81dmyrbgxhx8grr0-nixos-system-web1-24.05.20240601.abcdef0
entry=system-2-link
entry_time=1719820800
entry_path=/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05.20240701.89abcde
version=24.05.20240701.89abcde (Uakari)
booted_kernel=/nix/store/3ylr5i6n1x1lz0c2q7xy9a7yqzgrczgq-linux-6.6.32/bzImage
profile_kernel=/nix/store/p8s1vxa9bmmhk8kr3bm8v8p0gs8yqfm6-linux-6.6.36/bzImage
switch_lock=free
nixdeck_lock=free
uptime=93784.2
end=1
`, "\n", "\x00"))
	if err != nil {
		t.Fatal(err)
	}
	return []fleet.HostStatus{
		{Node: &fleet.Node{Name: "web1"}, State: st},
		{Node: &fleet.Node{Name: "db1"}, Err: errors.New("db1 (127.0.0.1:2202): dial: connection refused")},
		{Node: &fleet.Node{Name: "web2"}, State: st},
	}
}

func TestStatusTable(t *testing.T) {
	var b bytes.Buffer
	if err := writeStatusTable(&b, testStatuses(t)); err != nil {
		t.Fatal(err)
	}
	want := `HOST  GEN  RUNNING                                   VERSION                          REBOOT  SWITCH LOCK  NIXDECK LOCK  UPTIME
web1  2    nixos-system-web1-24.05.20240701.89abcde  24.05.20240701.89abcde (Uakari)  yes     free         free          1d2h
db1   -    error: db1 (127.0.0.1:2202): dial: connection refused
web2  2    nixos-system-web1-24.05.20240701.89abcde  24.05.20240701.89abcde (Uakari)  yes     free         free          1d2h
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	if err := failedHosts(testStatuses(t)); err == nil || !strings.Contains(err.Error(), "1 of 3 hosts could not be read: db1") {
		t.Errorf("failedHosts() = %v", err)
	}
}

// An error whose message spans lines (a script's stderr tail) stays in its row.
func TestStatusTableMultiLineError(t *testing.T) {
	sts := testStatuses(t)
	sts[1].Err = errors.New("db1: read host state: host state script: exit status 1: sh: 1: cannot open /proc/uptime\nsh: 2: flock: not found")
	var b bytes.Buffer
	if err := writeStatusTable(&b, sts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 4 || lines[2] != "db1   -    error: db1: read host state: host state script: exit status 1: sh: 1: cannot open /proc/uptime | sh: 2: flock: not found" {
		t.Errorf("table:\n%s", b.String())
	}
}

// In JSON an unreachable host has its error and no state fields: no
// "reboot_needed": false it cannot know; a reachable one always has them.
func TestStatusJSONUnreachable(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSON(&b, statusJSON(testStatuses(t))); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0]["reboot_needed"] != true || got[0]["systemd"] != false {
		t.Errorf("reachable host: %v", got)
	}
	if _, ok := got[1]["reboot_needed"]; ok || got[1]["error"] == nil || len(got[1]) != 2 {
		t.Errorf("unreachable host: %v, want only host and error", got[1])
	}
}

func TestGenerationsTable(t *testing.T) {
	var b bytes.Buffer
	sts := testStatuses(t)
	for i := range sts[0].State.Generations {
		g := &sts[0].State.Generations[i]
		g.Created = time.Date(2024, 7, 1, 10, 0, i, 0, time.Local)
	}
	if err := writeGenerations(&b, sts); err != nil {
		t.Fatal(err)
	}
	want := `web1
  GEN  CREATED              SYSTEM                                    MARKS
  1    2024-07-01 10:00:00  nixos-system-web1-24.05.20240601.abcdef0  booted
  2    2024-07-01 10:00:01  nixos-system-web1-24.05.20240701.89abcde  current, running

db1: error: db1 (127.0.0.1:2202): dial: connection refused

web2
  GEN  CREATED              SYSTEM                                    MARKS
  1    2024-07-01 10:00:00  nixos-system-web1-24.05.20240601.abcdef0  booted
  2    2024-07-01 10:00:01  nixos-system-web1-24.05.20240701.89abcde  current, running
`
	if b.String() != want {
		t.Errorf("generations:\n%s\nwant:\n%s", b.String(), want)
	}
	j := generationsJSON(sts)
	if len(j[0].Generations) != 2 || j[1].Error == "" || j[1].Generations == nil {
		t.Errorf("json %+v", j)
	}
}

// A host that Ctrl-C stopped says "interrupted", in tables, in JSON and in
// the exit error, apart from the hosts that failed.
func TestStatusInterrupted(t *testing.T) {
	sts := testStatuses(t)
	sts[2].State, sts[2].Err = nil, fmt.Errorf("web2: %w", fleet.ErrInterrupted)
	var b bytes.Buffer
	if err := writeStatusTable(&b, sts); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(b.String(), "\n"); len(lines) < 4 || lines[3] != "web2  -    interrupted" {
		t.Errorf("table:\n%s", b.String())
	}
	err := failedHosts(sts)
	if want := "1 of 3 hosts could not be read: db1; 1 of 3 hosts interrupted: web2"; err == nil || err.Error() != want {
		t.Errorf("failedHosts() = %v, want %q", err, want)
	}
	j := statusJSON(sts)
	if !j[2].Interrupted || j[1].Interrupted || j[2].Error != "web2: interrupted" {
		t.Errorf("json: %+v", j)
	}
	b.Reset()
	if err := writeGenerations(&b, sts); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "\nweb2: interrupted\n") {
		t.Errorf("generations:\n%s", b.String())
	}
	if g := generationsJSON(sts); !g[2].Interrupted || g[1].Interrupted {
		t.Errorf("generations json: %+v", g)
	}
}

// What a host reported and nixdeck set aside, and the system links it
// lacks, are in `status --json`, exactly as the host spelt them.
func TestStatusJSONMissingAndIgnored(t *testing.T) {
	st, err := nix.ParseHostState("find=1\x00booted=/etc\x00entry=system-1\nx-link\x00end=1\x00")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeJSON(&b, statusJSON([]fleet.HostStatus{{Node: &fleet.Node{Name: "web1"}, State: st}})); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Missing []string      `json:"missing"`
		Ignored []nix.Ignored `json:"ignored"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Missing) != 2 || got[0].Missing[0] != nix.CurrentSystemLink || len(got[0].Ignored) != 2 ||
		got[0].Ignored[0].Entry != nix.BootedSystemLink || got[0].Ignored[1].Entry != "system-1\nx-link" {
		t.Errorf("json %s", b.String())
	}
}
