package main

import (
	"bytes"
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
		},
		{
			Host:        lab.Host{Name: "db01", Port: 36713, Tags: []string{"db"}},
			Current:     "/nix/store/16nz68pdmfjg7fcgwi2nmdgq89f45ynn-nixos-system-db01-24.05.20240901.1f4e2a0",
			Booted:      "/nix/store/16nz68pdmfjg7fcgwi2nmdgq89f45ynn-nixos-system-db01-24.05.20240901.1f4e2a0",
			Generations: []int{1},
			Profile:     1,
			Release:     "a",
		},
		{Host: lab.Host{Name: "web01", Port: 35925}, Release: "a"},
	}
	want := `HOST    PORT   SSHD  GENERATIONS  CURRENT SYSTEM                                                                                                    NEXT BUILD
canary  40239  up    1 2 3*       hjx82dc…-nixos-system-canary-24.05.20241015.7c3d9b5 (booted vyqx8z1…-nixos-system-canary-24.05.20240901.1f4e2a0)  release b, fault reboot, bump 2
db01    36713  down  1*           16nz68p…-nixos-system-db01-24.05.20240901.1f4e2a0                                                                 release a
web01   35925  down               -                                                                                                                 release a
`
	var b bytes.Buffer
	writeLabStatus(&b, sts)
	if b.String() != want {
		t.Errorf("status table:\n%s\nwant:\n%s", b.String(), want)
	}
}
