package nix

import (
	"context"
	"strings"
	"testing"
)

// TestCurrentSystem checks what a host may answer for /run/current-system.
func TestCurrentSystem(t *testing.T) {
	const sys = "/nix/store/8jh7rcm1bdhy2bfy1q8jz6g5f5qvvf6n-nixos-system-web1-24.05"
	tests := []struct{ name, out, want, err string }{
		{"ok", sys + "\n", sys, ""},
		{"inside a store path", sys + "/sw\n", "", "is not a store path"},
		{"outside the store", "/etc\n", "", `"/etc" is not a store path`},
		{"dot-dot", "/nix/store/..\n", "", "is not a store path"},
		{"two lines", sys + "\n" + sys + "\n", "", "is not a store path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRunner(t)
			f.expect(CurrentSystemCmd().Argv...).out(tt.out)
			got, err := CurrentSystem(context.Background(), f)
			if tt.err == "" && (err != nil || got != tt.want) || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("got %q, %v; want %q, %q", got, err, tt.want, tt.err)
			}
		})
	}
	_, err := CurrentSystem(context.Background(), &floodRunner{})
	if err == nil || err.Error() != "read /run/current-system: sent more than 4097 bytes for /run/current-system" {
		t.Errorf("flood: %v", err)
	}
}
