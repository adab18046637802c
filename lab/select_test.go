package lab

import (
	"strings"
	"testing"
)

// TestSelect checks host selection for lab change.
func TestSelect(t *testing.T) {
	l := newLab("/nonexistent", makeHosts(5)) // canary web01 db01 web02 db02
	tests := []struct {
		sel  string
		want string
		err  bool
	}{
		{"", "canary web01 db01 web02 db02", false},
		{"canary", "canary", false},
		{"@web", "web01 web02", false},
		{"web*,!web02", "web01", false},
		{"!@db", "canary web01 web02", false},
		{"@db,canary", "canary db01 db02", false},
		{"nosuch", "", true},
		{"@web,!@nosuch", "", true},
	}
	for _, tt := range tests {
		got, err := l.Select(tt.sel)
		if (err != nil) != tt.err {
			t.Errorf("Select(%q) error %v, want error %v", tt.sel, err, tt.err)
			continue
		}
		if s := strings.Join(got, " "); !tt.err && s != tt.want {
			t.Errorf("Select(%q) = %q, want %q", tt.sel, s, tt.want)
		}
	}
}
