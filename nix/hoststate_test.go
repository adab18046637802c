package nix

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/proc"
)

const (
	gen40 = "/nix/store/0c8wq1ks8fbi3v6d81dmyrbgxhx8grr0-nixos-system-web1-24.05.20240601.abcdef0"
	gen41 = "/nix/store/4fc6ay38sk9rnnv0w0vjapnqrypxi0cm-nixos-system-web1-24.05.20240615.1234567"
	gen42 = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05.20240701.89abcde"

	kernel32  = "/nix/store/3ylr5i6n1x1lz0c2q7xy9a7yqzgrczgq-linux-6.6.32/bzImage"
	kernel36  = "/nix/store/p8s1vxa9bmmhk8kr3bm8v8p0gs8yqfm6-linux-6.6.36/bzImage"
	initrd32  = "/nix/store/ya840zk2j3n5c4kf6rf70z5m2xpz7dmx-initrd-linux-6.6.32/initrd"
	initrd36  = "/nix/store/9kh2nsbsc3mwdnf3vwk1xkz1cr0g8l4c-initrd-linux-6.6.36/initrd"
	modules32 = "/nix/store/frdz2fqgsiqk9p1hiqsm1b9p84m1sngr-linux-6.6.32-modules"
	modules36 = "/nix/store/lwb4mbszij7q38rzi93yqr7zbmq2fdal-linux-6.6.36-modules"
)

// records renders key=value records as hostStateScript prints them, each
// ended by a NUL.
func records(recs ...string) string { return strings.Join(recs, "\x00") + "\x00" }

// listed renders records after find's mark that it listed the links, as
// every sound answer has it.
func listed(recs ...string) string { return records(append([]string{"find=1"}, recs...)...) }

// entry is a profiles directory symlink as the script reports it.
func entry(name, mtime, path string) []string {
	return []string{"entry=" + name, "entry_time=" + mtime + ".2578439520", "entry_path=" + path}
}

// hostStateNixOS is hostStateScript's output on a NixOS host that switched
// to generation 42 with a new kernel but has not rebooted, while another
// operator's nixdeck holds the host lock.
var hostStateNixOS = listed(slices.Concat(
	[]string{"hostname=web1\n", "current=" + gen42, "booted=" + gen40, "profile_link=system-42-link"},
	entry("system-40-link", "1717236000", gen40),
	entry("system-42-link", "1719820800", gen42),
	entry("system-41-link", "1718438400", gen41),
	[]string{"version=24.05.20240701.89abcde (Uakari)\n",
		"booted_kernel=" + kernel32, "booted_initrd=" + initrd32, "booted_kernel-modules=" + modules32, "booted_kernel-params=loglevel=4",
		"profile_kernel=" + kernel36, "profile_initrd=" + initrd36, "profile_kernel-modules=" + modules36, "profile_kernel-params=loglevel=4",
		"switch_lock=free", "nixdeck_lock=held", "nixdeck_holder=alice@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z\n",
		"uptime=86400.52\n", "systemd=1", "end=1"},
)...)

// bootRecords reports one boot spec for both the booted and the profile's
// system, with the profile's kernel parameters given apart.
func bootRecords(bootedParams, profileParams string) []string {
	return []string{
		"booted_kernel=" + kernel36, "booted_initrd=" + initrd36, "booted_kernel-modules=" + modules36, "booted_kernel-params=" + bootedParams,
		"profile_kernel=" + kernel36, "profile_initrd=" + initrd36, "profile_kernel-modules=" + modules36, "profile_kernel-params=" + profileParams,
	}
}

func TestParseHostState(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, s *HostState)
	}{{
		name: "NixOS host switched to a new kernel, not rebooted",
		in:   hostStateNixOS,
		check: func(t *testing.T, s *HostState) {
			if s.Hostname != "web1" || s.Current != gen42 || s.Booted != gen40 || s.Profile != gen42 || s.ProfileGeneration != 42 || s.Missing != nil || s.Ignored != nil {
				t.Errorf("systems: %+v", s)
			}
			if !s.RebootNeeded || !s.Systemd || s.Uptime != 24*time.Hour || s.Version != "24.05.20240701.89abcde (Uakari)" {
				t.Errorf("reboot %v systemd %v uptime %v version %q", s.RebootNeeded, s.Systemd, s.Uptime, s.Version)
			}
			if s.BootedSpec.Kernel != kernel32 || s.ProfileSpec.KernelModules != modules36 || s.ProfileSpec.KernelParams != "loglevel=4" {
				t.Errorf("boot specs: %+v / %+v", s.BootedSpec, s.ProfileSpec)
			}
			if s.SwitchLock.String() != "free" || s.NixdeckLock.String() != "held by alice@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z" {
				t.Errorf("locks: %v / %v", s.SwitchLock, s.NixdeckLock)
			}
			if got := generationMarks(s); got != "40:B 41: 42:PR" || s.Generations[1].Created != time.Unix(1718438400, 0).UTC() {
				t.Errorf("generation marks %q, generations %+v", got, s.Generations)
			}
		},
	}, {
		name: "after switch-to-configuration test the running system is not in the profile",
		in: listed(slices.Concat([]string{"hostname=web1", "current=" + gen41, "booted=" + gen40, "profile_link=system-40-link"},
			entry("system-40-link", "1717236000", gen40), bootRecords("quiet", "quiet"),
			[]string{"switch_lock=held", "nixdeck_lock=free", "uptime=12.00\n", "end=1"})...),
		check: func(t *testing.T, s *HostState) {
			if s.RebootNeeded || s.Systemd || s.SwitchLock.String() != "held" || s.NixdeckLock.String() != "free" {
				t.Errorf("%+v", s)
			}
			if got := generationMarks(s); got != "40:PB" {
				t.Errorf("generation marks %q", got)
			}
			if _, ok := s.Previous(); ok {
				t.Error("a previous generation below the first one")
			}
		},
	}, {
		name: "only the kernel parameters changed",
		in:   listed(append(bootRecords("quiet", "quiet mitigations=off"), "end=1")...),
		check: func(t *testing.T, s *HostState) {
			if !s.RebootNeeded {
				t.Error("new kernel parameters need a reboot")
			}
		},
	}, {
		name: "a host that is not NixOS yet",
		in:   listed("hostname=fresh", "switch_lock=free", "nixdeck_lock=unknown", "uptime=5.1", "end=1"),
		check: func(t *testing.T, s *HostState) {
			if s.Current != "" || len(s.Generations) != 0 || s.ProfileGeneration != 0 || s.RebootNeeded || s.NixdeckLock.Known {
				t.Errorf("%+v", s)
			}
			if want := []string{CurrentSystemLink, BootedSystemLink, SystemProfile}; !slices.Equal(s.Missing, want) {
				t.Errorf("missing %q, want %q", s.Missing, want)
			}
			if s.NixdeckLock.String() != "?" {
				t.Errorf("unknown lock renders %q", s.NixdeckLock)
			}
		},
	}, {
		name: "current-system missing, the rest present",
		in:   listed(slices.Concat([]string{"booted=" + gen40, "profile_link=system-40-link"}, entry("system-40-link", "1717236000", gen40), []string{"end=1"})...),
		check: func(t *testing.T, s *HostState) {
			if !slices.Equal(s.Missing, []string{CurrentSystemLink}) || s.Current != "" || s.Booted != gen40 || s.ProfileGeneration != 40 {
				t.Errorf("missing %q, state %+v", s.Missing, s)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseHostState(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// generationMarks renders "N:marks" per generation: P profile, R running, B booted.
func generationMarks(s *HostState) string {
	var out []string
	for _, g := range s.Generations {
		m := fmt.Sprint(g.Number, ":")
		for _, b := range []struct {
			on bool
			c  string
		}{{g.Profile, "P"}, {g.Running, "R"}, {g.Booted, "B"}} {
			if b.on {
				m += b.c
			}
		}
		out = append(out, m)
	}
	return strings.Join(out, " ")
}

// TestParseHostStateSetsStrangeEntriesAside: what a host reports that does
// not hold up marks that entry, never the whole host, and no name or link
// target can pass for a record of its own.
func TestParseHostStateSetsStrangeEntriesAside(t *testing.T) {
	in := listed(slices.Concat(
		[]string{"current=/etc", "booted=" + gen40 + "\nprofile=" + gen40, "profile_link=system-42-link\n"},
		entry("system-40-link", "1717236000", gen40),
		entry("system-42-link", "1719820800", gen42),
		// A name with a newline and a forged record in it.
		entry("system-41-link\nentry=system-9-link", "1718438400", gen41),
		entry("system-abc-link", "1718438400", gen41),
		entry("system-99999999999999999999-link", "1718438400", gen41),
		entry("system-007-link", "1718438400", gen41),
		entry("system-4=5-link", "1718438400", gen41),
		[]string{"entry=system-43-link"}, // not a symlink
		entry("system-44-link", "1718438400", gen41+"\n"),
		entry("system-45-link", "1718438400", "/etc/passwd"),
		entry("system-46-link", "1718438400", "/nix/store/../../etc/shadow"),
		entry("system-47-link", "-1", gen41),
		entry("system-48-link", "99999999999999999999", gen41),
		entry("system-49-link", "1718438400", ""),
		entry("system-42-link", "1719820800", gen41),
		[]string{"booted_kernel=/boot/vmlinuz", "profile_kernel-params=" + strings.Repeat("x", maxKernelParams+1), "uptime=1e400\n", "end=1"},
	)...)
	s, err := ParseHostState(in)
	if err != nil {
		t.Fatal(err)
	}
	// The profile link itself is strange ("system-42-link\n"): no
	// generation is the profile's, and the profile leads to no system.
	if got := generationMarks(s); got != "40: 42:" || s.ProfileGeneration != 0 {
		t.Errorf("generations %q (profile %d), want the two sound ones, none the profile's", got, s.ProfileGeneration)
	}
	if s.Current != "" || s.Booted != "" || s.Profile != "" || s.Missing != nil || s.Uptime != 0 || s.BootedSpec.Kernel != "" {
		t.Errorf("state %+v", s)
	}
	want := map[string]string{
		CurrentSystemLink:                     `leads to "/etc": not in /nix/store`,
		BootedSystemLink:                      "not a store object",
		SystemProfile:                         "not a generation link name",
		"system-41-link\nentry=system-9-link": `generation number "41-link\nentry=system-9" is not a plain decimal`,
		"system-abc-link":                     `generation number "abc" is not a plain decimal`,
		"system-99999999999999999999-link":    "out of range",
		"system-007-link":                     "not a plain decimal",
		"system-4=5-link":                     "not a plain decimal",
		"system-43-link":                      "not a symbolic link",
		"system-44-link":                      "not a store object",
		"system-45-link":                      "not in /nix/store",
		"system-46-link":                      "not a store object",
		"system-47-link":                      `modification time: "-1.2578439520" is not a time`,
		"system-48-link":                      "modification time:",
		"system-49-link":                      "cannot be resolved",
		"system-42-link":                      "reported twice",
		BootedSystemLink + "/kernel":          "not in /nix/store",
		"/proc/uptime":                        "not a plausible number",
		SystemProfile + "/kernel-params":      "larger than 4096 bytes",
	}
	got := map[string]string{}
	for _, i := range s.Ignored {
		got[i.Entry] = i.Reason
	}
	for e, reason := range want {
		if !strings.Contains(got[e], reason) {
			t.Errorf("ignored %q: reason %q, want one mentioning %q", e, got[e], reason)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d entries ignored, want %d: %q", len(got), len(want), s.Ignored)
	}
}

// Output that is not the script's records fails the host, with a message
// that quotes no more than a little of what the host sent.
func TestParseHostStateRejectsBrokenOutput(t *testing.T) {
	huge := strings.Repeat("x", 100000)
	tests := []struct{ name, in, want string }{
		{"cut short", records("hostname=web1", "current="+gen42)[:30], "incomplete (no end marker) after 30 bytes"},
		{"no end marker", records("hostname=web1"), "incomplete"},
		{"empty", "", "incomplete"},
		{"not key=value", records("sh: 1: flock: not found", "end=1"), `record 1: "sh: 1: flock: not found" is not key=value`},
		{"a key outside the alphabet", records("Hostname=x", "end=1"), "is not key=value"},
		{"huge garbage", records(huge, "end=1"), `record 1: "xxxx`},
		{"a key twice", records("current="+gen42, "current="+gen41, "end=1"), "record 2: current given twice"},
		{"entry fields without an entry", records("entry_path="+gen42, "end=1"), "record 1: entry_path out of place"},
		{"entry field twice", records("entry=system-1-link", "entry_path="+gen42, "entry_path="+gen41, "end=1"), "record 3: entry_path out of place"},
		{"records after the end", records("end=1", "current="+gen42, "end=1"), "record 1: records after the end marker"},
		// A host without GNU find would otherwise look like one without
		// any system.
		{"links not listed", records("hostname=web1", "switch_lock=free", "end=1"), "host's links were not listed (the script needs GNU find)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHostState(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseHostState() error = %v, want %q", err, tt.want)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error of %d bytes quotes too much of the output", len(err.Error()))
			}
		})
	}
}

// A host that does not answer in time: the transport quotes the whole
// command in its error; the message keeps the host and cause, not the script.
func TestQueryHostStateErrorLeavesTheScriptOut(t *testing.T) {
	argv := HostStateCmd().Argv
	r := newFakeRunner(t)
	r.expect(argv...).fail(fmt.Errorf("web18: %s: %w", proc.Format(argv), context.DeadlineExceeded))
	_, err := QueryHostState(context.Background(), r)
	want := "read host state: web18: host state script: context deadline exceeded"
	if err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("QueryHostState() error %q, want %q wrapping context.DeadlineExceeded", err, want)
	}
}

// A host that sends more than MaxHostStateOutput: the error names the host
// and the bound, and leaves the script out.
func TestQueryHostStateOverTheBound(t *testing.T) {
	var got Cmd
	r := runnerFunc(func(_ context.Context, c Cmd) error {
		got = c
		return &OutputLimitError{Host: "web01", Argv: c.Argv, Limit: c.MaxOutput}
	})
	_, err := QueryHostState(context.Background(), r)
	want := "read host state: web01 sent more than 1 MiB of output for host state script"
	var le *OutputLimitError
	if got.MaxOutput != MaxHostStateOutput || err == nil || err.Error() != want || !errors.As(err, &le) {
		t.Errorf("bound %d, error %q; want %d, %q", got.MaxOutput, err, MaxHostStateOutput, want)
	}
}

// runnerFunc adapts a function to Runner.
type runnerFunc func(ctx context.Context, c Cmd) error

func (f runnerFunc) Run(ctx context.Context, c Cmd) error { return f(ctx, c) }
