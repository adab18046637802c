package lab

import (
	"strings"
	"testing"
)

// TestCountLogins checks the sshd log parser on real sshd lines, a line
// still being written, an overlong line and the size bound.
func TestCountLogins(t *testing.T) {
	const accepted = "Accepted publickey for deploy from 127.0.0.1 port 40812 ssh2: ED25519 SHA256:DFE+b90EEYipfijBaD3+BSQ5J8Fx8O+zIXav9SrbSjA\n"
	real := `Server listening on 127.0.0.1 port 36933.
Connection from 127.0.0.1 port 44382 on 127.0.0.1 port 36933 rdomain ""
Accepted key ED25519 SHA256:DFE+b90EEYipfijBaD3+BSQ5J8Fx8O+zIXav9SrbSjA found at /run/nixdeck-lab/authorized_keys:1
Postponed publickey for root from 127.0.0.1 port 44382 ssh2 [preauth]
Accepted publickey for root from 127.0.0.1 port 44382 ssh2: ED25519 SHA256:DFE+b90EEYipfijBaD3+BSQ5J8Fx8O+zIXav9SrbSjA
Starting session: forced-command (config) '/run/nixdeck-lab/shell' for root from 127.0.0.1 port 44382 id 0
Received disconnect from 127.0.0.1 port 44382:11: disconnected by user
Disconnected from user root 127.0.0.1 port 44382
`
	tests := []struct {
		name  string
		log   string
		limit int
		want  int
		err   bool
	}{
		{"empty", "", 1 << 20, 0, false},
		{"real session", real, 1 << 20, 1, false},
		{"two logins", real + accepted, 1 << 20, 2, false},
		{"line being written", real + strings.TrimSuffix(accepted, "\n"), 1 << 20, 1, false},
		{"not at line start", "x " + accepted, 1 << 20, 0, false},
		{"overlong line", strings.Repeat("a", 200<<10) + accepted + "\n" + accepted, 1 << 20, 1, false},
		{"too large", real + accepted, len(real), 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := countLogins(strings.NewReader(tt.log), tt.limit)
			if n != tt.want || (err != nil) != tt.err {
				t.Errorf("countLogins = %d, %v; want %d, error %v", n, err, tt.want, tt.err)
			}
		})
	}
}
