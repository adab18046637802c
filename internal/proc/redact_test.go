package proc

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Secrets on a command line (a binary cache's signing key in its store
// URI, a key file flag) never show in a rendered argv or an error; the
// argv itself, which runs, keeps them.
func TestRedact(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"nix", "copy", "--to", "file:///c?secret-key=/k/c.sec", "/nix/store/x"},
			"nix copy --to 'file:///c?secret-key=<redacted>' /nix/store/x"},
		{[]string{"nix", "copy", "--to", "s3://b?region=eu&secret-key=/k/c.sec&compression=xz"},
			"nix copy --to 's3://b?region=eu&secret-key=<redacted>&compression=xz'"},
		{[]string{"nix", "copy", "--from", "ssh-ng://b?ssh-key=/root/.ssh/id&remote-store=/r"},
			"nix copy --from 'ssh-ng://b?ssh-key=<redacted>&remote-store=/r'"},
		{[]string{"nix", "store", "sign", "--key-file", "/k/c.sec", "--recursive", "/nix/store/x"},
			"nix store sign --key-file '<redacted>' --recursive /nix/store/x"},
		{[]string{"nix", "--option", "secret-key-files", "/k/c.sec", "build"},
			"nix --option secret-key-files '<redacted>' build"},
		{[]string{"nix", "--secret-key-files", "/k/c.sec"}, "nix --secret-key-files '<redacted>'"},
		{[]string{"nix", "copy", "--to", "s3://b?region=eu"}, "nix copy --to 's3://b?region=eu'"},
	}
	for _, tt := range tests {
		orig := slices.Clone(tt.argv)
		if got := Format(tt.argv); got != tt.want {
			t.Errorf("Format(%q) = %q, want %q", tt.argv, got, tt.want)
		}
		if !slices.Equal(tt.argv, orig) {
			t.Errorf("Format changed its argv: %q", tt.argv)
		}
		err := (&ExitError{Argv: tt.argv, Code: 1}).Error()
		if strings.Contains(err, "/k/c.sec") || strings.Contains(err, "/root/.ssh/id") {
			t.Errorf("error %q shows a secret", err)
		}
	}
	// ShellJoin runs the command: it keeps the key.
	if s, _ := ShellJoin(tests[0].argv); !strings.Contains(s, "secret-key=/k/c.sec") {
		t.Errorf("ShellJoin = %q, lost the key", s)
	}
	plain := []string{"nix-store", "--realise", "/nix/store/x.drv"}
	if r := Redact(plain); &r[0] != &plain[0] {
		t.Error("Redact copied an argv without secrets")
	}
}

// A program that repeats a secret from its command line in its error
// (Nix cannot open the key file) has it hidden in the error's text;
// errors.As still finds the ExitError.
func TestHideSecrets(t *testing.T) {
	argv := []string{"nix", "copy", "--to", "file:///c?secret-key=/k/c.sec"}
	err := HideSecrets(&ExitError{Argv: argv, Code: 1, Stderr: "error: opening file '/k/c.sec': No such file or directory\n"}, argv)
	var ee *ExitError
	if s := err.Error(); strings.Contains(s, "/k/c.sec") || !strings.Contains(s, "opening file '<redacted>'") || !errors.As(err, &ee) {
		t.Errorf("error %q", s)
	}
	if HideSecrets(nil, argv) != nil {
		t.Error("no error became one")
	}
	plain := errors.New("x")
	if HideSecrets(plain, []string{"nix", "build"}) != plain {
		t.Error("an error without secrets was wrapped")
	}
}
