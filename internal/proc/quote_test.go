package proc

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nix-env", "nix-env"},
		{"/nix/store/abc-nixos-system-web01-24.05", "/nix/store/abc-nixos-system-web01-24.05"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
		{"*", "'*'"},
		{"a\nb", "'a\nb'"},
		{"--option=substituters=", "--option=substituters="},
	}
	for _, tt := range tests {
		if got, err := ShellQuote(tt.in); got != tt.want || err != nil {
			t.Errorf("ShellQuote(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got, err := ShellJoin([]string{"sudo", "-n", "--", "echo", "a b"}); got != "sudo -n -- echo 'a b'" || err != nil {
		t.Errorf("ShellJoin = %q, %v", got, err)
	}
}

// What the quoters produce, a real shell reads back as the same words.
func TestShellJoinRoundTrip(t *testing.T) {
	argv := []string{"printf", "%s|", "a b", "it's", "$HOME", "*", "", "`id`", "\\", "é\t\n", "'"}
	line, err := ShellJoin(argv)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", line).Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", line, err)
	}
	if want := strings.Join(argv[2:], "|") + "|"; string(out) != want {
		t.Errorf("sh read %q back as %q, want %q", line, out, want)
	}
}

// A NUL byte cannot be quoted: the quoters and Cmd.Check refuse it and
// name the argument; messages show it as ␀, never as the raw byte.
func TestNULRefused(t *testing.T) {
	argv := []string{"rm", "-rf", "/srv/data\x00/etc"}
	if q, err := ShellQuote(argv[2]); !errors.Is(err, ErrNUL) || q != "" {
		t.Errorf("ShellQuote = %q, %v; want ErrNUL", q, err)
	}
	line, err := ShellJoin(argv)
	if !errors.Is(err, ErrNUL) || line != "" {
		t.Fatalf("ShellJoin = %q, %v; want ErrNUL", line, err)
	}
	if want := "rm -rf '/srv/data␀/etc': argument 2: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
	if err := (Cmd{Argv: argv}).Check(); !errors.Is(err, ErrNUL) {
		t.Errorf("Check = %v, want ErrNUL", err)
	}
	if err := (Cmd{}).Check(); err == nil || err.Error() != "empty command" {
		t.Errorf("Check of an empty Cmd = %v", err)
	}
	if err := (Cmd{Argv: []string{"true", ""}}).Check(); err != nil {
		t.Errorf("Check of a plain Cmd = %v", err)
	}
	if s := (Cmd{Argv: argv}).String(); strings.IndexByte(s, 0) >= 0 {
		t.Errorf("String() = %q holds a NUL", s)
	}
}
