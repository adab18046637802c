// Command nixdeck deploys NixOS system closures to fleets of hosts over SSH,
// from a keyboard-driven console or headless for CI.
//
// main.go only wires things together: it parses the command line and hands
// each subcommand to its Run method (one cmd_*.go file per command group).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/alecthomas/kong"

	"nixdeck/internal/termtext"
)

// cli is the whole command line; kong generates --help from its tags.
type cli struct {
	globals

	Console     consoleCmd     `cmd:"" default:"withargs" help:"Open the keyboard console on the fleet (the default command)."`
	Check       checkCmd       `cmd:"" help:"Validate the fleet file and print a summary."`
	Trust       trustCmd       `cmd:"" help:"Show host key fingerprints and add them to known_hosts after confirmation."`
	Status      statusCmd      `cmd:"" help:"Show the live state of the selected hosts."`
	Generations generationsCmd `cmd:"" help:"List the system generations of the selected hosts."`
	Diff        diffCmd        `cmd:"" help:"Show what would change: nvd-style closure diff (local OLD NEW, or per host)."`
	Deploy      deployCmd      `cmd:"" help:"Build, show what changes, confirm, then roll out: canary first, waves, health checks, magic rollback."`
	Rollback    rollbackCmd    `cmd:"" help:"Take the selected hosts back to an earlier generation, in parallel, with magic rollback."`
	History     historyCmd     `cmd:"" help:"Show past deploys and rollbacks, one record per host."`
	Lab         labCmd         `cmd:"" help:"Run a local fleet of NixOS-like hosts (real sshd, private Nix store per host)."`
}

// globals are the flags every command accepts.
type globals struct {
	File string `short:"f" name:"file" placeholder:"FILE" help:"Fleet file (default ./fleet.yaml, then $$NIXDECK_FLEET)."`
}

// exitError carries a process exit code with the error that caused it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode wraps err so that main exits with code.
func exitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run parses args, runs the chosen command and returns the exit code:
// 0 success, 1 operation failed, 2 usage or fleet file error, 130 or 143
// when SIGINT (Ctrl-C) or SIGTERM stopped it. A command's Run method may
// take a context.Context: the one cancelled by those signals.
func run(args []string) int {
	intr := onInterrupt()
	defer intr.stop()
	var c cli
	parser, err := kong.New(&c,
		kong.BindTo(intr.ctx, (*context.Context)(nil)),
		kong.Bind(intr),
		kong.Name("nixdeck"),
		kong.Description("Deploy NixOS to fleets of machines, from a terminal console or headless."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Exit(func(code int) { panic(kongExit(code)) }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nixdeck:", err)
		return 2
	}
	ctx, code, ok := parse(parser, args)
	if !ok {
		return code
	}
	err = ctx.Run(&c.globals)
	if sig, ok := intr.received(); ok {
		// Whatever the command was doing stopped because of the signal;
		// its own error says what was left undone, a bare cancellation
		// says nothing more.
		// An error can quote a host (its stderr, its state): the value stays
		// raw for callers, the terminal gets it made visible.
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "nixdeck:", termtext.VisibleLines(err.Error()))
		}
		fmt.Fprintf(os.Stderr, "nixdeck: interrupted by %s\n", signalName(sig))
		return signalExit(sig)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nixdeck:", termtext.VisibleLines(err.Error()))
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

// kongExit is how kong asks to stop the program (after --help); parse
// recovers it so that run stays the only place that decides exit codes.
type kongExit int

// parse runs kong's parser; ok is false when the program should exit with code.
func parse(p *kong.Kong, args []string) (ctx *kong.Context, code int, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			k, isExit := r.(kongExit)
			if !isExit {
				panic(r)
			}
			ctx, code, ok = nil, int(k), false
		}
	}()
	ctx, err := p.Parse(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nixdeck:", err)
		return nil, 2, false
	}
	return ctx, 0, true
}
