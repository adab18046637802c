package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
)

// Exec runs argv inside the named host's mount namespace (its /nix and
// /run) with the environment of an SSH session on the host, and returns
// what it wrote to stdout. On failure the error names the host and the
// command, carries stderr's last lines, and wraps the *exec.ExitError.
// It is meant for test assertions and lab maintenance, not deployment.
func (l *Lab) Exec(ctx context.Context, host string, argv []string, stdin io.Reader) ([]byte, error) {
	if _, err := l.host(host); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := l.nsCommand(ctx, host, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("lab host %s: %s: %w: %s", host, strings.Join(argv, " "), err, lastLines(stderr.String(), 5))
	}
	return stdout.Bytes(), nil
}
