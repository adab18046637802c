package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"nixdeck/lab"
)

func TestWriteLabStatus(t *testing.T) {
	sts := []lab.HostStatus{
		{
			Host:        lab.Host{Name: "canary", Port: 40239, Tags: []string{"canary"}},
			SSHD:        true,
			Current:     "/nix/store/hjx82dcxr6swx9rhzwkqgx0y92j5vqp0-nixos-system-canary-24.05.20241015.7c3d9b5",
			Booted:      "/nix/store/vyqx8z1qlpwmk1xhvrl1zv5yw8dwr3nk-nixos-system-canary-24.05.20240901.1f4e2a0",
			Generations: []int{1, 2, 3},
			Profile:     3,
			Release:     "b",
			Fault:       "reboot",
			Bump:        2,
			Versions:    lab.Versions{Nix: "2.8.0", OpenSSH: "9.2"},
		},
		{
			Host:        lab.Host{Name: "db01", Port: 36713, Tags: []string{"db"}},
			Current:     "/nix/store/16nz68pdmfjg7fcgwi2nmdgq89f45ynn-nixos-system-db01-24.05.20240901.1f4e2a0",
			Booted:      "/nix/store/16nz68pdmfjg7fcgwi2nmdgq89f45ynn-nixos-system-db01-24.05.20240901.1f4e2a0",
			Generations: []int{1},
			Profile:     1,
			Release:     "a",
			Versions:    lab.Versions{Nix: "2.26.3", OpenSSH: "10.0p2"},
		},
		{Host: lab.Host{Name: "web01", Port: 35925}, Release: "a"},
		{Host: lab.Host{Name: "build01", Port: 35926, Builder: true}, SSHD: true, Release: "a"},
	}
	want := `HOST               PORT   SSHD  NIX     OPENSSH  GENERATIONS  CURRENT SYSTEM                                                                                                    NEXT BUILD
canary             40239  up    2.8.0   9.2      1 2 3*       hjx82dc…-nixos-system-canary-24.05.20241015.7c3d9b5 (booted vyqx8z1…-nixos-system-canary-24.05.20240901.1f4e2a0)  release b, fault reboot, bump 2
db01               36713  down  2.26.3  10.0p2   1*           16nz68p…-nixos-system-db01-24.05.20240901.1f4e2a0                                                                 release a
web01              35925  down  -       -                     -                                                                                                                 release a
build01 (builder)  35926  up    -       -                     -                                                                                                                 release a
`
	var b bytes.Buffer
	if err := writeLabStatus(&b, sts); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("status table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// Bad usage of the lab commands exits 2, as the README says: a host count
// out of range (0 is not "the default"), a host the lab does not have, a
// selector that selects nothing and a change that changes nothing.
func TestLabUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	manifest := `[{"name": "canary", "port": 1, "tags": ["canary"]}]`
	if err := os.WriteFile(filepath.Join(dir, "lab.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"lab", "up", "--hosts", "0", "--dir", filepath.Join(dir, "new")},
		{"lab", "up", "--hosts", "501", "--dir", filepath.Join(dir, "new")},
		{"lab", "up", "--hosts", "3", "--current", "4", "--dir", filepath.Join(dir, "new")},
		{"lab", "up", "--current", "-1", "--dir", filepath.Join(dir, "new")},
		{"lab", "up", "--current", "1", "--current-on", "canary", "--dir", filepath.Join(dir, "new")},
		{"lab", "up", "--current-on", "nosuch", "--dir", filepath.Join(dir, "new")},
		{"lab", "up", "--builders", "-1", "--dir", filepath.Join(dir, "new")},
		{"lab", "up", "--builders", "21", "--dir", filepath.Join(dir, "new")},
		{"lab", "host", "nosuch", "down", "--dir", dir},
		{"lab", "change", "nosuch", "--bump", "--dir", dir},
		{"lab", "change", "canary,!canary", "--bump", "--dir", dir},
		{"lab", "change", "canary", "--dir", dir},
		{"lab", "change", "canary", "--degrade-after", "2s", "--dir", dir},
		{"lab", "change", "canary", "--fault", "units", "--degrade-after", "2s", "--dir", dir},
		{"lab", "host", "canary", "--dir", dir},
		{"lab", "host", "canary", "--user", "alice", "--dir", dir},
		{"lab", "host", "canary", "--sudo", "maybe", "--dir", dir},
	} {
		if code := run(args); code != 2 {
			t.Errorf("nixdeck %v exited %d, want 2", args, code)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("lab up with a bad --hosts created its directory")
	}
}
