package main

// Placeholders for commands whose issues are in progress; each moves to its
// own cmd_<name>.go file when implemented.

import "errors"

var errNotYet = errors.New("not implemented yet")

type trustCmd struct{}

func (c *trustCmd) Run(g *globals) error { return errNotYet }
