package nix

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"nixdeck/internal/proc"
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
		name: "closure query, script failed on the transport, which names the host",
		argv: closure, err: &ExitError{Host: "web1", Argv: closure, Code: 1, Stderr: "nix-store: error: path '/nix/store/x-sys' is not valid\n"},
		call: func(r Runner) error { _, err := QueryClosure(context.Background(), r, "/nix/store/x-sys"); return err },
		want: "query closure of /nix/store/x-sys: web1: closure query script: exit status 1: nix-store: error: path '/nix/store/x-sys' is not valid",
	}, {
		name: "closure query, transport timed out",
		argv: closure, err: fmt.Errorf("web1: %s: %w", proc.Format(closure), context.DeadlineExceeded),
		call: func(r Runner) error { _, err := QueryClosure(context.Background(), r, "/nix/store/x-sys"); return err },
		want: "query closure of /nix/store/x-sys: web1: closure query script: context deadline exceeded",
	}, {
		name: "validity check, transport timed out",
		argv: validity, err: fmt.Errorf("web1: %s: %w", proc.Format(validity), context.DeadlineExceeded),
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

// The launch script carries the run script as one quoted word; quoting it
// cannot fail (quotedRunScript drops the error), and a shell reads it back
// whole.
func TestActivateRunScriptQuotes(t *testing.T) {
	q, err := proc.ShellQuote(activateRunScript)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(activateLaunchScript, "run="+q+"\n") {
		t.Error("the launch script does not hold the quoted run script")
	}
	out, err := exec.Command("sh", "-c", "printf %s "+q).Output()
	if err != nil || string(out) != activateRunScript {
		t.Errorf("sh read the quoted run script back as %q, %v", out, err)
	}
}
