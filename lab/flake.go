package lab

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"nixdeck/internal/tail"
	"nixdeck/nix"
)

// flakeFiles are the Nix expressions and scripts of the lab flake.
//
//go:embed nix/*
var flakeFiles embed.FS

// hostConfig is one host's entry in the flake's state.json: what the next
// build of its system contains.
type hostConfig struct {
	// Role picks the services: "web" (nginx) or "db" (postgresql).
	Role string `json:"role"`
	// Release is the package set, "a" or "b".
	Release string `json:"release"`
	// Fault is baked into the system's activation: "", fail, units, hang,
	// breakssh, degraded or reboot.
	Fault string `json:"fault"`
	// DegradeAfter is the degraded fault's delay in seconds, "" otherwise.
	DegradeAfter string `json:"degrade_after,omitempty"`
	// Bump grows with every `lab change --bump`, by a random step; it is
	// part of a package version.
	Bump int `json:"bump"`
}

// flakeState is the content of flake/state.json.
type flakeState struct {
	Hosts map[string]*hostConfig `json:"hosts"`
}

// writeFlake writes the flake's files into FlakeDir.
func (l *Lab) writeFlake() error {
	if err := os.MkdirAll(l.FlakeDir, 0o755); err != nil {
		return err
	}
	entries, err := flakeFiles.ReadDir("nix")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := flakeFiles.ReadFile("nix/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(l.FlakeDir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readState reads flake/state.json.
func (l *Lab) readState() (*flakeState, error) {
	path := filepath.Join(l.FlakeDir, "state.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st flakeState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st, nil
}

// writeState replaces flake/state.json.
func (l *Lab) writeState(st *flakeState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.FlakeDir, "state.json"), append(b, '\n'), 0o644)
}

// AttrPath is the flake attribute of the named host's system.
func AttrPath(name string) string {
	return "nixosConfigurations." + name + ".config.system.build.toplevel"
}

// nixFlags make every nix invocation of the lab work offline with flakes.
var nixFlags = []string{"--extra-experimental-features", "nix-command flakes", "--option", "substituters", ""}

// Build builds the named hosts' systems from the lab flake with one
// `nix build` and returns their store paths by host name.
func (l *Lab) Build(ctx context.Context, names []string) (map[string]string, error) {
	flake, err := nix.FlakeRef(l.FlakeDir)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	args := append([]string{}, nixFlags...)
	args = append(args, "build", "--json", "--no-link", "--max-jobs", "8")
	for _, n := range names {
		args = append(args, flake.Ref+"#"+AttrPath(n))
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "nix", args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = flake.Dir, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("lab: nix build of %s: %w: %s", strings.Join(names, ", "), err, tail.LastLines(stderr.String(), 8))
	}
	var results []struct {
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
		return nil, fmt.Errorf("lab: nix build output: %w", err)
	}
	if len(results) != len(names) {
		return nil, fmt.Errorf("lab: nix build returned %d results for %d hosts", len(results), len(names))
	}
	// Nix 2.8 does not list the results in the order of the installables;
	// the top level's name says whose system it is.
	paths := make(map[string]string, len(names))
	for _, n := range names {
		for _, r := range results {
			if out := r.Outputs["out"]; strings.Contains(out, "-nixos-system-"+n+"-") {
				paths[n] = out
			}
		}
		if paths[n] == "" {
			return nil, fmt.Errorf("lab host %s: nix build returned no system for it", n)
		}
	}
	return paths, nil
}
