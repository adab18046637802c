package nix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"

	"nixdeck/internal/tail"
	"nixdeck/internal/termtext"
)

// A builder builds only the system types it is configured for (a
// builder's `systems`); Nix would send it a derivation of another type
// anyway and fail late, on the builder, after the copy. The type is the
// derivation's `system` (its platform), which `nix show-derivation
// --json` prints for each .drv: one command for all of them, under Nix
// 2.8 and, as a deprecated alias of `nix derivation show`, current Nix.
// The .drv files are this machine's (Instantiate wrote them), but what
// is read is still bounded and checked.

const (
	// maxDrvJSON bounds show-derivation's output: a NixOS system's
	// derivation is a few KiB of environment.
	maxDrvJSON = 16 << 20
	// maxSystemType bounds a system type ("x86_64-linux").
	maxSystemType = 64
)

// DrvSystems returns the system type of each derivation in drvs, by
// derivation path.
func DrvSystems(ctx context.Context, r Runner, drvs []string) (map[string]string, error) {
	if len(drvs) == 0 {
		return map[string]string{}, nil
	}
	var out, errb bytes.Buffer
	argv := NixCmd(append([]string{"show-derivation"}, drvs...)...)
	if err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out, Stderr: &errb, MaxOutput: maxDrvJSON}); err != nil {
		return nil, fmt.Errorf("read the derivations' system types: %w: %s", err, tail.LastLines(errb.String(), 3))
	}
	systems, err := parseDrvSystems(out.Bytes(), drvs)
	if err != nil {
		return nil, fmt.Errorf("read the derivations' system types: nix show-derivation: %w", err)
	}
	return systems, nil
}

// parseDrvSystems reads the "system" of each of drvs from
// show-derivation's JSON object, keyed by derivation path (or, in later
// Nix versions, by its base name).
func parseDrvSystems(b []byte, drvs []string) (map[string]string, error) {
	var all map[string]struct {
		System *string `json:"system"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(drvs))
	for _, d := range drvs {
		v, ok := all[d]
		if !ok {
			v, ok = all[path.Base(d)]
		}
		if !ok || v.System == nil {
			return nil, fmt.Errorf("no system type printed for %s", d)
		}
		if !validSystemType(*v.System) {
			return nil, fmt.Errorf("%s: %q is not a system type", d, termtext.Visible(truncateForError([]byte(*v.System))))
		}
		out[d] = *v.System
	}
	return out, nil
}

// validSystemType reports whether s looks like a Nix system type:
// "x86_64-linux", "aarch64-darwin", "builtin".
func validSystemType(s string) bool {
	if s == "" || len(s) > maxSystemType {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}
