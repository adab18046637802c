// Package nix knows Nix and NixOS: it builds argv for the Nix CLI
// (nix, nix-store, nix-env) and for NixOS's switch-to-configuration, runs
// them through a Runner (local exec or a remote SSH session) and parses what
// comes back. It never dials SSH itself and never imports Bubble Tea.
package nix

import "nixdeck/internal/proc"

// The process vocabulary is internal/proc's, shared with the transport
// (fleet/remote), whose *Client is a Runner itself. These aliases are the
// same types under nix's name, so that nix's API reads in its own terms
// (a step builds a nix.Cmd and runs it through a nix.Runner) and callers
// match failures with errors.As(err, &*nix.ExitError) or proc's name alike.

// Cmd is one command to run, locally or on a host; see proc.Cmd.
type Cmd = proc.Cmd

// Runner runs Cmds: LocalRunner here, *remote.Client on a host; see proc.Runner.
type Runner = proc.Runner

// ExitError reports a command that ran and did not exit 0; see proc.ExitError.
type ExitError = proc.ExitError

// OutputLimitError reports a command stopped for sending more than its
// Cmd.MaxOutput; see proc.OutputLimitError.
type OutputLimitError = proc.OutputLimitError

// ErrConnectionLost marks errors where the command's fate is unknown
// because the connection to the host went away; it is proc.ErrConnectionLost.
var ErrConnectionLost = proc.ErrConnectionLost
