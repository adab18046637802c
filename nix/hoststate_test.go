package nix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	gen40 = "/nix/store/0c8wq1ks8fbi3v6d81dmyrbgxhx8grr0-nixos-system-web1-24.05.20240601.abcdef0"
	gen41 = "/nix/store/4fc6ay38sk9rnnv0w0vjapnqrypxi0cm-nixos-system-web1-24.05.20240615.1234567"
	gen42 = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05.20240701.89abcde"
)

// hostStateNixOS is hostStateScript's output on a NixOS host that switched
// to generation 42 with a new kernel but has not rebooted, while another
// operator's nixdeck holds the host lock.
const hostStateNixOS = `hostname=web1
current=` + gen42 + `
booted=` + gen40 + `
profile=` + gen42 + `
profile_link=system-42-link
gen=40 1717236000 ` + gen40 + `
gen=42 1719820800 ` + gen42 + `
gen=41 1718438400 ` + gen41 + `
version=24.05.20240701.89abcde (Uakari)
booted_kernel=/nix/store/3ylr5i6n1x1lz0c2q7xy9a7yqzgrczgq-linux-6.6.32/bzImage
profile_kernel=/nix/store/p8s1vxa9bmmhk8kr3bm8v8p0gs8yqfm6-linux-6.6.36/bzImage
booted_initrd=/nix/store/ya840zk2j3n5c4kf6rf70z5m2xpz7dmx-initrd-linux-6.6.32/initrd
profile_initrd=/nix/store/9kh2nsbsc3mwdnf3vwk1xkz1cr0g8l4c-initrd-linux-6.6.36/initrd
booted_kernel-modules=/nix/store/frdz2fqgsiqk9p1hiqsm1b9p84m1sngr-linux-6.6.32-modules
profile_kernel-modules=/nix/store/lwb4mbszij7q38rzi93yqr7zbmq2fdal-linux-6.6.36-modules
switch_lock=free
nixdeck_lock=held
nixdeck_holder=alice@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z 
uptime=86400.52
systemd=1
end=1
`

func TestParseHostState(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		check   func(t *testing.T, s *HostState)
		wantErr string
	}{{
		name: "NixOS host after a kernel update",
		in:   hostStateNixOS,
		check: func(t *testing.T, s *HostState) {
			if s.Hostname != "web1" || s.Current != gen42 || s.Booted != gen40 || s.Profile != gen42 || s.ProfileGeneration != 42 {
				t.Errorf("systems: %+v", s)
			}
			if !s.RebootNeeded || !s.Systemd || s.Uptime != 24*time.Hour || s.Version != "24.05.20240701.89abcde (Uakari)" {
				t.Errorf("reboot %v systemd %v uptime %v version %q", s.RebootNeeded, s.Systemd, s.Uptime, s.Version)
			}
			if s.SwitchLock.String() != "free" || s.NixdeckLock.String() != "held by alice@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z" {
				t.Errorf("locks: %v / %v", s.SwitchLock, s.NixdeckLock)
			}
			var marks []string
			for _, g := range s.Generations {
				m := ""
				for _, b := range []struct {
					on bool
					c  string
				}{{g.Profile, "P"}, {g.Running, "R"}, {g.Booted, "B"}} {
					if b.on {
						m += b.c
					}
				}
				marks = append(marks, m)
			}
			if got := strings.Join(marks, ","); got != "B,,PR" || s.Generations[1].Number != 41 || s.Generations[1].Created != time.Unix(1718438400, 0).UTC() {
				t.Errorf("generation marks %q, generations %+v", got, s.Generations)
			}
		},
	}, {
		name: "after switch-to-configuration test the running system is not in the profile",
		in: "hostname=web1\ncurrent=" + gen41 + "\nbooted=" + gen40 + "\nprofile=" + gen40 + "\nprofile_link=system-40-link\n" +
			"gen=40 1717236000 " + gen40 + "\nbooted_kernel=/k1\nprofile_kernel=/k1\nswitch_lock=held\nnixdeck_lock=free\nuptime=12.00\nend=1\n",
		check: func(t *testing.T, s *HostState) {
			if s.RebootNeeded || s.Systemd || s.SwitchLock.String() != "held" || s.NixdeckLock.String() != "free" {
				t.Errorf("%+v", s)
			}
			if g := s.Generations[0]; !g.Profile || g.Running || !g.Booted {
				t.Errorf("generation 40 marks: %+v", g)
			}
			if _, ok := s.Previous(); ok {
				t.Error("a previous generation below the first one")
			}
		},
	}, {
		name: "a host that is not NixOS yet",
		in:   "hostname=fresh\ncurrent=\nbooted=\nprofile=\nprofile_link=\nswitch_lock=free\nnixdeck_lock=unknown\nuptime=5.1\nend=1\n",
		check: func(t *testing.T, s *HostState) {
			if s.Current != "" || len(s.Generations) != 0 || s.ProfileGeneration != 0 || s.RebootNeeded || s.NixdeckLock.Known {
				t.Errorf("%+v", s)
			}
			if s.NixdeckLock.String() != "?" {
				t.Errorf("unknown lock renders %q", s.NixdeckLock)
			}
		},
	}, {
		name:    "output cut short",
		in:      "hostname=web1\ncurrent=" + gen42 + "\n",
		wantErr: "incomplete",
	}, {
		name:    "a broken generation line",
		in:      "hostname=web1\ngen=42 " + gen42 + "\nend=1\n",
		wantErr: "line 2: generation",
	}, {
		name:    "not key=value",
		in:      "sh: 1: flock: not found\nend=1\n",
		wantErr: "not key=value",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseHostState(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseHostState() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// A host that does not answer in time: the transport quotes the whole
// command in its error; the message keeps the host and cause, not the script.
func TestQueryHostStateErrorLeavesTheScriptOut(t *testing.T) {
	argv := HostStateCmd().Argv
	r := newFakeRunner(t)
	r.expect(argv...).fail(fmt.Errorf("web18: %s: %w", ShellJoin(argv), context.DeadlineExceeded))
	_, err := QueryHostState(context.Background(), r)
	want := "read host state: web18: host state script: context deadline exceeded"
	if err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("QueryHostState() error %q, want %q wrapping context.DeadlineExceeded", err, want)
	}
}
