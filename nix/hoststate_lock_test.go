package nix

import (
	"strings"
	"testing"
)

// TestParseHostStateLocks: nixdeck's lock is held while its directory
// exists, whoever its owner file names; the holder is shown only once it
// holds up, and the switch lock is flock's verdict.
func TestParseHostStateLocks(t *testing.T) {
	const line = "alice@laptop pid=4242 op=deploy-20240701T100000-3f2a9c since=2024-07-01T10:00:00Z"
	tests := []struct {
		name           string
		recs           []string
		switchLock     string
		nixdeckLock    string
		ignored, cause string
	}{
		{"both free", []string{"switch_lock=free", "nixdeck_lock=free"}, "free", "free", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"held, owner written", []string{"switch_lock=held", "nixdeck_lock=held", "nixdeck_holder=" + line + "\n"}, "held", "held by " + line, "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"held, owner not yet written", []string{"switch_lock=free", "nixdeck_lock=held"}, "free", "held (owner not yet written)", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"held, owner empty", []string{"nixdeck_lock=held", "nixdeck_holder="}, "?", "held (owner not valid)", ownerFile, `"" is not "user@machine`},
		{"held, owner with an escape sequence", []string{"nixdeck_lock=held", "nixdeck_holder=alice@\x1b]0;pwned\x07 pid=1 op=x since=2024-07-01T10:00:00Z"}, "?",
			"held (owner not valid)", ownerFile, `is not "user@machine pid=N op=ID since=TIME"`},
		{"a file where the directory goes", []string{"switch_lock=unknown", "nixdeck_lock=not-a-directory"}, "?", "?", NixdeckLockPath, "not a directory"},
		{"untested", []string{"switch_lock=unknown", "nixdeck_lock=unknown"}, "?", "?", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"no verdict", nil, "?", "?", "", `is not "user@machine pid=N op=ID since=TIME"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseHostState(listed(append(tt.recs, "end=1")...))
			if err != nil {
				t.Fatal(err)
			}
			if s.SwitchLock.String() != tt.switchLock || s.NixdeckLock.String() != tt.nixdeckLock {
				t.Errorf("switch lock %q, nixdeck lock %q; want %q, %q", s.SwitchLock, s.NixdeckLock, tt.switchLock, tt.nixdeckLock)
			}
			var ignored []Ignored
			for _, i := range s.Ignored {
				if i.Entry != CurrentSystemLink && i.Entry != BootedSystemLink && i.Entry != SystemProfile {
					ignored = append(ignored, i)
				}
			}
			switch {
			case tt.ignored == "" && len(ignored) > 0:
				t.Errorf("ignored %q", ignored)
			case tt.ignored != "" && (len(ignored) != 1 || ignored[0].Entry != tt.ignored || !strings.Contains(ignored[0].Reason, tt.cause)):
				t.Errorf("ignored %q, want %s: %q", ignored, tt.ignored, tt.cause)
			}
		})
	}
}

func TestStatusHolder(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"alice@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z\n", "alice@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z", ""},
		{"ci-bot@build.example.org pid=1 op=rollback-20240701T100000-3f2a9c since=2024-07-01T12:00:00+02:00", "ci-bot@build.example.org pid=1 op=rollback-20240701T100000-3f2a9c since=2024-07-01T12:00:00+02:00", ""},
		{"alice@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z\n\n", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z\nbob@x pid=1 op=y since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=0 op=deploy-7 since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=042 op=deploy-7 since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=99999999999 op=deploy-7 since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=-1 op=deploy-7 since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=4242 op=deploy;rm since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=4242 op= since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=4242 op=deploy-7 since=yesterday", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop  pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@laptop pid=4242 since=2024-07-01T10:00:00Z op=deploy-7", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{"alice@l\u00e4ptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z", "", `is not "user@machine pid=N op=ID since=TIME"`},
		{strings.Repeat("a", 460) + "@laptop pid=4242 op=deploy-7 since=2024-07-01T10:00:00Z", "", "longer than 512 bytes"},
	}
	for _, tt := range tests {
		got, err := statusHolder(tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("statusHolder(%q) = %q, %v; want %q, error mentioning %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}
