package nix

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseHostStateProfile: the profile names its generation link, and
// its system is that generation's, only when the generation holds up.
func TestParseHostStateProfile(t *testing.T) {
	tests := []struct {
		name       string
		recs       []string
		profile    string
		generation int
		ignored    []string // "entry: reason" of what was set aside
	}{
		{"a sound generation", slices.Concat([]string{"profile_link=system-41-link"}, entry("system-41-link", "1718438400", gen41)), gen41, 41, nil},
		{"a generation that is not there", slices.Concat([]string{"profile_link=system-43-link"}, entry("system-41-link", "1718438400", gen41)), "", 43,
			[]string{SystemProfile + ": points to system-43-link, which does not exist"}},
		{"a generation set aside", slices.Concat([]string{"profile_link=system-41-link"}, entry("system-41-link", "1718438400", "/etc")), "", 41,
			[]string{`system-41-link: leads to "/etc": not in /nix/store`}},
		{"straight to a store path", slices.Concat([]string{"profile_link=" + gen41}, entry("system-41-link", "1718438400", gen41)), gen41, 0,
			[]string{SystemProfile + ": points to " + excerpt(gen41) + ": not a generation link name"}},
		{"off the store", []string{"profile_link=/etc"}, "", 0, []string{SystemProfile + `: points to "/etc": not a generation link name`}},
		{"not a link", []string{"profile_link="}, "", 0, []string{SystemProfile + ": not a readable symbolic link"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseHostState(listed(append(tt.recs, "current=", "end=1")...))
			if err != nil {
				t.Fatal(err)
			}
			var ignored []string
			for _, i := range s.Ignored {
				if i.Entry != CurrentSystemLink {
					ignored = append(ignored, i.Entry+": "+i.Reason)
				}
			}
			if s.Profile != tt.profile || s.ProfileGeneration != tt.generation || !slices.Equal(ignored, tt.ignored) {
				t.Errorf("profile %q, generation %d, ignored %q; want %q, %d, %q", s.Profile, s.ProfileGeneration, ignored, tt.profile, tt.generation, tt.ignored)
			}
			// A link that is not one (find prints no target) is said so.
			if !slices.Equal(s.Missing, []string{BootedSystemLink}) || s.Current != "" || s.Ignored[0] != (Ignored{CurrentSystemLink, "not a readable symbolic link"}) {
				t.Errorf("missing %q, current %q, ignored %q", s.Missing, s.Current, s.Ignored)
			}
		})
	}
}

// TestParseUnixTime: find's %T@ (seconds, a dot, the fraction) and plain
// seconds are taken; nothing else that ParseInt or ParseFloat would.
func TestParseUnixTime(t *testing.T) {
	for in, want := range map[string]int64{"1718438400.2578439520": 1718438400, "1718438400": 1718438400, "0.0000000000": 0, "253402300799.9": 253402300799} {
		if got, err := parseUnixTime(in); err != nil || !got.Equal(time.Unix(want, 0)) {
			t.Errorf("parseUnixTime(%q) = %v, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".5", "1718438400.", "1718438400.-5", "1.2.3", "+5", "-1.0", "1718438400\n", "1e9", "253402300800.0", "0x10", " 5"} {
		if got, err := parseUnixTime(in); err == nil || !strings.Contains(err.Error(), "is not a time in seconds since 1970") {
			t.Errorf("parseUnixTime(%q) = %v, %v; want an error", in, got, err)
		}
	}
}
