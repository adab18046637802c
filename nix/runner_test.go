package nix

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

func TestOutputLimitErrorText(t *testing.T) {
	argv := []string{"nix-store", "-qR", "/nix/store/abc-x"}
	if got, want := (&OutputLimitError{Host: "web01", Argv: argv, Limit: 16 << 20}).Error(), "web01 sent more than 16 MiB of output for nix-store -qR /nix/store/abc-x"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := (&OutputLimitError{Argv: argv, Limit: 4096}).Error(), "nix-store -qR /nix/store/abc-x: sent more than 4 KiB of output"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
