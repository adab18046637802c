package remote

import (
	"bytes"
	"testing"
)

func TestPIDFilter(t *testing.T) {
	tests := []struct {
		name    string
		writes  []string
		wantPID int
		wantOut string
	}{
		{name: "pid line alone", writes: []string{"nixdeck-pid:4242\n"}, wantPID: 4242},
		{name: "pid line and output together", writes: []string{"nixdeck-pid:17\nerror: boom\n"}, wantPID: 17, wantOut: "error: boom\n"},
		{name: "split across writes", writes: []string{"nix", "deck-pid:9", "9\nwarn", "ing\n"}, wantPID: 99, wantOut: "warning\n"},
		{name: "no pid line", writes: []string{"sh: 1: exec: nope: not found\n"}, wantOut: "sh: 1: exec: nope: not found\n"},
		{name: "short unterminated output", writes: []string{"nix"}, wantOut: "nix"},
		{name: "bad pid", writes: []string{"nixdeck-pid:x\n"}, wantOut: "nixdeck-pid:x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newPIDFilter(&out)
			for _, w := range tt.writes {
				if n, err := p.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			p.Flush()
			if p.PID() != tt.wantPID || out.String() != tt.wantOut {
				t.Errorf("pid %d output %q, want %d %q", p.PID(), out.String(), tt.wantPID, tt.wantOut)
			}
			select {
			case <-p.decided:
			default:
				t.Error("not decided after Flush")
			}
		})
	}
}
