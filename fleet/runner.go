package fleet

import (
	"context"
	"errors"

	"nixdeck/fleet/remote"
	"nixdeck/nix"
)

// SSHRunner runs nix commands on one host over an SSH connection. It
// implements nix.Runner: one session per command on the shared
// connection, argv quoted for the remote shell, privileged commands
// through `sudo -n --` as the host's sudo mode says.
type SSHRunner struct {
	// Client is the host's connection, usually from a remote.Pool.
	Client *remote.Client
}

// Run runs c on the host. Errors carry the node name and keep the
// nix.Runner contract: a failed command matches *nix.ExitError (errors.As),
// one that sent more than c.MaxOutput *nix.OutputLimitError, a dead
// connection matches nix.ErrConnectionLost (errors.Is).
func (r SSHRunner) Run(ctx context.Context, c nix.Cmd) error {
	err := r.Client.Run(ctx, remote.Cmd{
		Argv:       c.Argv,
		Stdin:      c.Stdin,
		Stdout:     c.Stdout,
		Stderr:     c.Stderr,
		Privileged: c.Privileged,
		MaxOutput:  c.MaxOutput,
	})
	return nixError(r.Client.Name(), c.Argv, err)
}

// nixError translates a transport result into nix.Runner's vocabulary.
// Other errors (sudo wanting a password, a cancelled context) pass
// through unchanged; they already name the host.
func nixError(node string, argv []string, err error) error {
	var ee *remote.ExitError
	var le *remote.OutputLimitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return &HostError{Host: node, Err: &nix.ExitError{Argv: argv, Code: ee.Code, Signal: ee.Signal, Stderr: ee.Stderr}}
	case errors.As(err, &le):
		return &nix.OutputLimitError{Host: node, Argv: argv, Limit: le.Limit}
	case errors.Is(err, remote.ErrConnectionLost):
		return connectionLost{err}
	}
	return err
}

// connectionLost is a transport error that also matches
// nix.ErrConnectionLost, keeping the transport's message.
type connectionLost struct{ err error }

// Error is the transport's message.
func (c connectionLost) Error() string { return c.err.Error() }

// Unwrap matches both the transport error and nix.ErrConnectionLost.
func (c connectionLost) Unwrap() []error { return []error{c.err, nix.ErrConnectionLost} }
