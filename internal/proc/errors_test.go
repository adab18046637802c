package proc

import (
	"strings"
	"testing"
)

// A host's stderr is quoted in errors only by its last lines, and those
// only up to maxErrorBytes: one error must not carry pages of output.
func TestExitErrorBoundsStderr(t *testing.T) {
	argv := []string{"nix-store", "--import"}
	var many []string
	for i := range 20 {
		many = append(many, "line "+string(rune('a'+i)))
	}
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name, stderr, want string
	}{
		{name: "short", stderr: "error: no space left\n", want: "nix-store --import: exit status 1: error: no space left"},
		{name: "many lines keep the last", stderr: strings.Join(many, "\n"), want: "nix-store --import: exit status 1: line p\nline q\nline r\nline s\nline t"},
		{name: "one huge line is cut at its end", stderr: "start" + long + "end\n", want: "nix-store --import: exit status 1: …" + long[:maxErrorBytes-3] + "end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&ExitError{Argv: argv, Code: 1, Stderr: tt.stderr}).Error()
			if got != tt.want {
				t.Errorf("Error() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestExitErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *ExitError
		want string
	}{
		{name: "local", err: &ExitError{Argv: []string{"nix", "build"}, Code: 1}, want: "nix build: exit status 1"},
		{name: "remote names the host", err: &ExitError{Host: "web01", Argv: []string{"nix-store", "--import"}, Code: 1, Stderr: "error: no space left\n"},
			want: "web01: nix-store --import: exit status 1: error: no space left"},
		{name: "signal", err: &ExitError{Host: "web01", Argv: []string{"sleep", "9"}, Code: -1, Signal: "KILL"}, want: "web01: sleep 9: killed by signal KILL"},
		{name: "scripts stay out", err: &ExitError{Argv: []string{"sh", "-c", "set -eu\nlong script", "sh", "/nix/store/x-sys"}, Code: 1, Stderr: "oops\n"},
			want: "sh -c '<script>' sh /nix/store/x-sys: exit status 1: oops"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%s: Error() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestOutputLimitErrorText(t *testing.T) {
	argv := []string{"nix-store", "-qR", "/nix/store/abc-x"}
	if got, want := (&OutputLimitError{Host: "web01", Argv: argv, Limit: 16 << 20}).Error(), "web01 sent more than 16 MiB of output for nix-store -qR /nix/store/abc-x"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := (&OutputLimitError{Argv: argv, Limit: 4096}).Error(), "nix-store -qR /nix/store/abc-x: sent more than 4 KiB of output"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
