package nix

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// No error shows one of nixdeck's scripts: an ExitError shows `sh -c
// '<script>'`, and the steps that run scripts name themselves instead,
// whether the script failed or the transport did.
func TestScriptsStayOutOfErrors(t *testing.T) {
	e := &ExitError{Argv: ClosureCmd("/nix/store/x-sys").Argv, Code: 1, Stderr: "oops\n"}
	if got, want := e.Error(), "sh -c '<script>' sh /nix/store/x-sys: exit status 1: oops"; got != want {
		t.Errorf("ExitError = %q, want %q", got, want)
	}
	closure := ClosureCmd("/nix/store/x-sys").Argv
	validity := []string{"sh", "-c", checkValidityScript}
	tests := []struct {
		name string
		argv []string
		err  error
		call func(r Runner) error
		want string
	}{{
		name: "closure query, script failed",
		argv: closure, err: fmt.Errorf("web1: %w", &ExitError{Argv: closure, Code: 1, Stderr: "nix-store: error: path '/nix/store/x-sys' is not valid\n"}),
		call: func(r Runner) error { _, err := QueryClosure(context.Background(), r, "/nix/store/x-sys"); return err },
		want: "query closure of /nix/store/x-sys: web1: closure query script: exit status 1: nix-store: error: path '/nix/store/x-sys' is not valid",
	}, {
		name: "closure query, transport timed out",
		argv: closure, err: fmt.Errorf("web1: %s: %w", ShellJoin(closure), context.DeadlineExceeded),
		call: func(r Runner) error { _, err := QueryClosure(context.Background(), r, "/nix/store/x-sys"); return err },
		want: "query closure of /nix/store/x-sys: web1: closure query script: context deadline exceeded",
	}, {
		name: "validity check, transport timed out",
		argv: validity, err: fmt.Errorf("web1: %s: %w", ShellJoin(validity), context.DeadlineExceeded),
		call: func(r Runner) error {
			_, err := Invalid(context.Background(), r, []string{"/nix/store/x-sys"})
			return err
		},
		want: "check which paths the host lacks: web1: validity check script: context deadline exceeded",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newFakeRunner(t)
			r.expect(tt.argv...).fail(tt.err)
			err := tt.call(r)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap the runner's error", err)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("a script line got into %q", err)
			}
		})
	}
}

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
