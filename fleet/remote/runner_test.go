package remote

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nixdeck/internal/proc"
)

// A Client is the proc.Runner nix runs host commands through: its errors
// name the host and match proc's types, with no adapter in between.
// (Connection loss is TestKeepaliveDetectsDeadPeer's.)
func TestRunnerContract(t *testing.T) {
	_, _, c := dialTest(t)
	var r proc.Runner = c
	ctx := context.Background()

	err := r.Run(ctx, proc.Cmd{Argv: []string{"sh", "-c", "echo 'error: no space left' >&2; exit 3"}})
	var ee *proc.ExitError
	if !errors.As(err, &ee) || ee.Host != "web01" || ee.Code != 3 || !strings.HasPrefix(err.Error(), "web01: sh -c '<script>': exit status 3: error: no space left") {
		t.Errorf("failing command: %v", err)
	}

	var out bytes.Buffer
	err = r.Run(ctx, proc.Cmd{Argv: []string{"head", "-c", "100000", "/dev/zero"}, Stdout: &out, MaxOutput: 4096})
	var le *proc.OutputLimitError
	if !errors.As(err, &le) || le.Host != "web01" || le.Limit != 4096 || out.Len() != 4096 {
		t.Errorf("output over MaxOutput: %v after %d bytes, want *proc.OutputLimitError after 4096", err, out.Len())
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.Run(cctx, proc.Cmd{Argv: []string{"true"}}); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "web01: ") {
		t.Errorf("cancelled: %v, want context.Canceled naming web01", err)
	}
}

// An argument with a NUL byte cannot reach the remote shell intact (its
// command line would end at the NUL): Run refuses it, naming the host,
// before a session opens. The refusal is not a lost connection, and the
// connection stays usable.
func TestRunRefusesNUL(t *testing.T) {
	_, _, c := dialTest(t)
	marker := filepath.Join(t.TempDir(), "ran")
	err := c.Run(context.Background(), proc.Cmd{Argv: []string{"sh", "-c", `touch "$0"`, marker, "a\x00b"}})
	if !errors.Is(err, proc.ErrNUL) || errors.Is(err, proc.ErrConnectionLost) || !strings.HasPrefix(err.Error(), "web01") {
		t.Errorf("err = %v, want proc.ErrNUL naming web01", err)
	}
	if strings.IndexByte(err.Error(), 0) >= 0 {
		t.Errorf("the error %q carries the NUL byte", err)
	}
	if _, serr := os.Stat(marker); !errors.Is(serr, os.ErrNotExist) {
		t.Errorf("the command ran: %v", serr)
	}
	if err := c.Run(context.Background(), proc.Cmd{Argv: []string{"true"}}); err != nil {
		t.Errorf("the connection after the refusal: %v", err)
	}
}

// A command with a Dir (a directory of the operator's machine) is refused
// before anything runs on the host, naming the host.
func TestRunRefusesLocalDir(t *testing.T) {
	_, _, c := dialTest(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	err := c.Run(context.Background(), proc.Cmd{Argv: []string{"touch", marker}, Dir: dir})
	if want := "web01: touch " + marker + ": runs in the local directory " + dir + ", which a remote host does not have"; err == nil || err.Error() != want {
		t.Errorf("command with a Dir: %v, want %s", err, want)
	}
	if _, err := os.Lstat(marker); err == nil {
		t.Error("the command with a Dir ran on the host")
	}
}
