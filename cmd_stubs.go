package main

// Placeholders for commands whose issues are in progress; each moves to its
// own cmd_<name>.go file when implemented.

import "errors"

var errNotYet = errors.New("not implemented yet")

