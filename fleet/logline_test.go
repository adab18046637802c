package fleet

import (
	"errors"
	"testing"

	"nixdeck/nix"
)

// LogLine says what the log files say: output with its source, what
// nixdeck reports with "#", the outcome and the end of a host; progress
// is left out.
func TestLogLine(t *testing.T) {
	tests := []struct {
		e         Event
		tag, text string
		ok        bool
	}{
		{LogEvent{Source: "activate", Line: "starting sshd"}, "[activate]", "starting sshd", true},
		{PhaseEvent{Phase: PhaseCopying}, "#", "phase copying", true},
		{HostOutcome{Outcome: OutcomeRolledBack, Cause: "health check http failed"}, "#", "outcome: rolled back: health check http failed", true},
		{DoneEvent{Err: errors.New("web01: copy: broken pipe")}, "#", "finished: web01: copy: broken pipe", true},
		{DoneEvent{}, "#", "finished", true},
		{CopyEvent{CopyProgress: nix.CopyProgress{PathsDone: 1}}, "", "", false},
		{BuiltEvent{System: "/nix/store/x", Where: "builder:big"}, "#", "built /nix/store/x on builder:big", true},
		{BuiltEvent{System: "/nix/store/x", Where: BuildLocal}, "#", "built /nix/store/x", true},
		{CachePushEvent{Cache: "s3://c", Paths: 3, PathsTotal: 9}, "", "", false},
		{CachePushEvent{Cache: "s3://c", Paths: 9, PathsTotal: 9, Bytes: 100, Done: true}, "#", "cache push to s3://c: 9 paths, 100 bytes", true},
		{CachePushEvent{Cache: "s3://c", Done: true, Err: errors.New("denied")}, "#", "cache push to s3://c failed: denied", true},
	}
	for _, tt := range tests {
		tag, text, ok := LogLine(tt.e)
		if tag != tt.tag || text != tt.text || ok != tt.ok {
			t.Errorf("LogLine(%T) = %q, %q, %v; want %q, %q, %v", tt.e, tag, text, ok, tt.tag, tt.text, tt.ok)
		}
	}
}
