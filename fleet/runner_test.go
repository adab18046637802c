package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet/remote"
	"nixdeck/nix"
)

var _ nix.Runner = SSHRunner{}

func TestNixError(t *testing.T) {
	argv := []string{"nix-env", "-p", "/nix/var/nix/profiles/system", "--set", "/nix/store/abc-nixos-system-web01"}
	lost := fmt.Errorf("web01 (10.0.0.1:22): %w: no reply to 3 keepalives sent every 15s", remote.ErrConnectionLost)
	sudo := &remote.SudoError{Name: "web01", Addr: "10.0.0.1:22", User: "deploy", Argv: argv, Message: "sudo: a password is required"}
	cancelled := fmt.Errorf("web01: nix-env: %w", context.Canceled)
	tests := []struct {
		name      string
		in        error
		wantNil   bool
		wantExit  *nix.ExitError
		wantLost  bool
		wantSame  bool
		wantError string
	}{
		{name: "success", in: nil, wantNil: true},
		{
			name:      "exit status",
			in:        &remote.ExitError{Name: "web01", Argv: argv, Code: 1, Stderr: "error: path '/nix/store/abc' is not valid\n"},
			wantExit:  &nix.ExitError{Argv: argv, Code: 1, Stderr: "error: path '/nix/store/abc' is not valid\n"},
			wantError: "web01: nix-env -p /nix/var/nix/profiles/system --set /nix/store/abc-nixos-system-web01: exit status 1: error: path '/nix/store/abc' is not valid",
		},
		{
			name:      "signal",
			in:        &remote.ExitError{Name: "web01", Argv: argv, Code: -1, Signal: "KILL"},
			wantExit:  &nix.ExitError{Argv: argv, Code: -1, Signal: "KILL"},
			wantError: "web01: nix-env -p /nix/var/nix/profiles/system --set /nix/store/abc-nixos-system-web01: killed by signal KILL",
		},
		{name: "connection lost", in: lost, wantLost: true, wantError: lost.Error()},
		{
			name:      "output bound",
			in:        &remote.OutputLimitError{Name: "web01", Argv: argv, Limit: 1 << 20},
			wantError: "web01 sent more than 1 MiB of output for nix-env -p /nix/var/nix/profiles/system --set /nix/store/abc-nixos-system-web01",
		},
		{name: "sudo password", in: sudo, wantSame: true},
		{name: "cancelled", in: cancelled, wantSame: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := nixError("web01", argv, tt.in)
			if tt.wantNil != (got == nil) {
				t.Fatalf("got %v", got)
			}
			if tt.wantSame && got != tt.in {
				t.Errorf("got %v, want the error unchanged", got)
			}
			var ee *nix.ExitError
			if tt.wantExit != nil {
				if !errors.As(got, &ee) {
					t.Fatalf("%v is not a *nix.ExitError", got)
				}
				if ee.Code != tt.wantExit.Code || ee.Signal != tt.wantExit.Signal || ee.Stderr != tt.wantExit.Stderr || len(ee.Argv) != len(argv) {
					t.Errorf("ExitError %+v, want %+v", ee, tt.wantExit)
				}
			} else if errors.As(got, &ee) {
				t.Errorf("%v should not be a *nix.ExitError", got)
			}
			if lost := errors.Is(got, nix.ErrConnectionLost); lost != tt.wantLost {
				t.Errorf("errors.Is(nix.ErrConnectionLost) = %v, want %v", lost, tt.wantLost)
			}
			if tt.wantLost && !errors.Is(got, remote.ErrConnectionLost) {
				t.Error("the transport's ErrConnectionLost was lost")
			}
			if tt.wantError != "" && got.Error() != tt.wantError {
				t.Errorf("message\n got %q\nwant %q", got.Error(), tt.wantError)
			}
		})
	}
}

// TestSSHRunner runs nix.Cmds through a real transport to an in-process
// SSH server.
func TestSSHRunner(t *testing.T) {
	s, n := sshNode(t, "web01")
	o := remote.Options{KeepAliveInterval: 50 * time.Millisecond, KeepAliveMaxMissed: 2, SSHConfigPath: "none"}
	c, err := remote.Dial(context.Background(), n.Target(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var r nix.Runner = SSHRunner{Client: c}
	ctx := context.Background()

	var out bytes.Buffer
	if err := r.Run(ctx, nix.Cmd{Argv: []string{"cat"}, Stdin: strings.NewReader("/nix/store/abc-hello\n"), Stdout: &out}); err != nil || out.String() != "/nix/store/abc-hello\n" {
		t.Errorf("cat: %v, %q", err, out.String())
	}
	err = r.Run(ctx, nix.Cmd{Argv: []string{"sh", "-c", "echo 'error: no space left' >&2; exit 3"}})
	var ee *nix.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || !strings.HasPrefix(err.Error(), "web01: ") || !strings.Contains(ee.Stderr, "no space left") {
		t.Errorf("failing command: %v", err)
	}
	// The bound a nix.Cmd names reaches the transport.
	out.Reset()
	err = r.Run(ctx, nix.Cmd{Argv: []string{"head", "-c", "100000", "/dev/zero"}, Stdout: &out, MaxOutput: 4096})
	var le *nix.OutputLimitError
	if !errors.As(err, &le) || le.Host != "web01" || le.Limit != 4096 || out.Len() != 4096 {
		t.Errorf("output over MaxOutput: %v after %d bytes, want *nix.OutputLimitError after 4096", err, out.Len())
	}
	s.Freeze()
	if err := r.Run(ctx, nix.Cmd{Argv: []string{"sleep", "10"}}); !errors.Is(err, nix.ErrConnectionLost) {
		t.Errorf("dead peer: %v, want nix.ErrConnectionLost", err)
	}
}
