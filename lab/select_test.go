package lab

import (
	"strings"
	"testing"
)

// TestSelect checks host selection for lab change: the fleet file's
// grammar, tag globs and suggestions included.
func TestSelect(t *testing.T) {
	l := newLab("/nonexistent", makeHosts(5)) // canary web01 db01 web02 db02
	tests := []struct {
		sel  string
		want string // the names, or the error's text
		err  bool
	}{
		{"", "canary web01 db01 web02 db02", false},
		{"canary", "canary", false},
		{"@web", "web01 web02", false},
		{"web*,!web02", "web01", false},
		{"!@db", "canary web01 web02", false},
		{"@db,canary", "canary db01 db02", false},
		{"@d*", "db01 db02", false},
		{" db02 , web01 ", "web01 db02", false},
		{"nosuch", `lab /nonexistent: selector "nosuch": no node of that name`, true},
		{"webb01", `selector "webb01": no node of that name (did you mean web01?)`, true},
		{"@web,!@nosuch", `selector "!@nosuch": no node has that tag`, true},
		{"web*,!@web", `selector "web*,!@web": selects no node`, true},
		{"web01,,db01", "empty term", true},
		{"!!web01", "double negation", true},
		{"[", "malformed glob", true},
	}
	for _, tt := range tests {
		got, err := l.Select(tt.sel)
		if (err != nil) != tt.err {
			t.Errorf("Select(%q) error %v, want error %v", tt.sel, err, tt.err)
			continue
		}
		if tt.err && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Select(%q) error %q, want it to contain %q", tt.sel, err, tt.want)
		}
		if s := strings.Join(got, " "); !tt.err && s != tt.want {
			t.Errorf("Select(%q) = %q, want %q", tt.sel, s, tt.want)
		}
	}
}
