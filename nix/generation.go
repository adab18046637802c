package nix

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Generation is one generation of the system profile, read from its
// system-N-link symlink (never from `nix-env --list-generations`).
type Generation struct {
	// Number is N of system-N-link.
	Number int `json:"number"`
	// Path is the system store path the link points at.
	Path string `json:"path"`
	// Created is the link's modification time (when nix-env made it).
	Created time.Time `json:"created"`
	// Profile is true for the generation the profile points at (next boot).
	Profile bool `json:"profile"`
	// Running is true when this is the running system (/run/current-system).
	Running bool `json:"running"`
	// Booted is true when the machine booted this system.
	Booted bool `json:"booted"`
}

// Marks says which the generation is, as listings show it: "current"
// (the profile's, what the next boot starts), "running", "booted",
// comma-separated; "" for none.
func (g Generation) Marks() string {
	var m []string
	if g.Profile {
		m = append(m, "current")
	}
	if g.Running {
		m = append(m, "running")
	}
	if g.Booted {
		m = append(m, "booted")
	}
	return strings.Join(m, ", ")
}

// RollbackTarget picks generation n from the host's state, or with n == 0
// the previous one: the highest generation below the profile's current.
func RollbackTarget(s *HostState, n int) (Generation, error) {
	if n == 0 {
		g, ok := s.Previous()
		if !ok {
			return Generation{}, fmt.Errorf("no generation before %d to roll back to", s.ProfileGeneration)
		}
		return g, nil
	}
	g, ok := s.Generation(n)
	if !ok {
		return Generation{}, fmt.Errorf("generation %d does not exist", n)
	}
	return g, nil
}

// Rollback switches the host to generation g: the profile moves to it with
// `nix-env --switch-generation` and that generation's
// switch-to-configuration switch activates it, detached like any
// activation (req supplies OpID, Timeout, Log, Reconnect, and for magic
// rollback ConfirmTimeout and Confirm: a rollback that locks SSH out
// undoes itself like any switch). No generation is ever deleted.
func Rollback(ctx context.Context, r Runner, g Generation, req ActivateRequest) (ActivateResult, error) {
	req.Action, req.Path, req.Generation = Switch, g.Path, g.Number
	return Activate(ctx, r, req)
}
