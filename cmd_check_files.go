package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
)

// fileWarnings lists what check finds wrong with the files the fleet names
// (ref and refErr are what nix.FlakeRef made of the flake). They are
// warnings, not errors: the fleet file may be valid on the machine that
// deploys.
func fileWarnings(f *fleet.Fleet, ref string, refErr error) []string {
	var ws []string
	seen := map[string]bool{}
	check := func(path, what string, wantDir bool) {
		if path == "" || seen[path] {
			return
		}
		seen[path] = true
		st, err := os.Stat(path)
		switch {
		case err != nil:
			ws = append(ws, fmt.Sprintf("%s %s does not exist", what, path))
		case st.IsDir() && !wantDir:
			ws = append(ws, fmt.Sprintf("%s %s is a directory, not a file", what, path))
		}
	}
	if f.Flake != "" && filepath.IsAbs(f.Flake) {
		check(filepath.Join(f.Flake, "flake.nix"), "flake", false)
	}
	if refErr != nil {
		ws = append(ws, refErr.Error())
	} else if w := untrackedFlake(f.Flake, ref); w != "" {
		ws = append(ws, w)
	}
	check(f.File, "file", false)
	if w := signKeyWarning(f.Cache); w != "" {
		ws = append(ws, w)
	}
	var homeless []string
	hosts := f.Nodes
	for _, b := range f.Builders {
		hosts = append(hosts[:len(hosts):len(hosts)], b.Node())
	}
	for _, n := range hosts {
		check(n.Identity, "identity", false)
		check(n.KnownHosts, "known_hosts", false)
		if n.KnownHosts == "" {
			homeless = append(homeless, n.Name)
		}
	}
	if _, err := remote.HomeDir(); err != nil && len(homeless) > 0 {
		ws = append(ws, fmt.Sprintf("known_hosts of %s: ~/.ssh/known_hosts, but %v: set HOME, or known_hosts in the fleet file",
			strings.Join(homeless, ", "), err))
	}
	return ws
}

// untrackedFlake warns when the flake lives in a git checkout whose git
// does not track flake.nix: Nix copies tracked files only, so it would not
// find the flake (a path: build used to). "" when all is well or git
// cannot tell.
func untrackedFlake(dir, ref string) string {
	if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err != nil || !strings.HasPrefix(ref, "git+file:") {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := exec.CommandContext(ctx, "git", "-C", dir, "ls-files", "--error-unmatch", "--", "flake.nix").Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return fmt.Sprintf("flake %s: git does not track flake.nix, and Nix copies only tracked files of a git checkout: git add it", filepath.Join(dir, "flake.nix"))
	}
	return ""
}
