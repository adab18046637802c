package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"

	"nixdeck/fleet"
	"nixdeck/ui"
	"nixdeck/ui/styles"
)

// consoleCmd is `nixdeck console`, and `nixdeck` with no command: the
// keyboard console on the fleet file.
type consoleCmd struct {
	LogLines int `name:"log-lines" default:"10000" placeholder:"N" help:"Log lines of each host kept in memory (the on-disk logs keep every line)."`
}

// Run implements `nixdeck console`.
func (c *consoleCmd) Run(ctx context.Context, g *globals, intr *interrupt) error {
	if c.LogLines < 1 {
		return exitCode(2, fmt.Errorf("console: --log-lines %d: want 1 or more", c.LogLines))
	}
	if !term.IsTerminal(os.Stdin.Fd()) || !term.IsTerminal(os.Stdout.Fd()) {
		return exitCode(2, fmt.Errorf("console: stdin and stdout must be a terminal; without one use the headless commands (status, deploy, rollback, history)"))
	}
	f, err := loadFleet(g.File, os.Stderr)
	if err != nil {
		return err
	}
	hist, err := fleet.OpenHistory("")
	if err != nil {
		return fmt.Errorf("console: nothing could be recorded, so it did not open: %w", err)
	}
	defer hist.Close()
	rootDir, err := os.MkdirTemp("", "nixdeck-console-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(rootDir)
	eng := fleet.Open(f, fleet.Options{})
	defer eng.Close() // before the gc roots go: a build may still write them
	sigs, restore := intr.divert()
	defer restore()
	report, err := ui.Run(ui.Config{Fleet: f, Engine: ui.FleetEngine(eng), StateDir: hist.Dir(), RootDir: rootDir,
		Recorder: hist, Owner: operator(), Profile: consoleProfile(), LogLines: c.LogLines},
		ui.Terminal{In: os.Stdin, Out: os.Stdout, Signals: sigs})
	if err == nil && report != "" {
		// A quit in the middle of a rollout: what it left undone is the
		// command's outcome, as an interrupted deploy's is.
		err = exitCode(1, errors.New(report))
	}
	return err
}

// consoleProfile is the console's colour profile: the headless policy
// (styles.Profile), except that on a terminal without colours (NO_COLOR)
// the screen is still a terminal's, so ASCII rather than NoTTY.
func consoleProfile() colorprofile.Profile {
	if p := styles.Profile(os.Stdout); p != colorprofile.NoTTY {
		return p
	}
	return colorprofile.Ascii
}
