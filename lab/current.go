package lab

import (
	"context"
	"fmt"
	"io"
	"slices"
)

// CurrentHosts returns the names of the hosts that opts.Current or
// opts.CurrentOn make current-Nix hosts, in lab order: opts.Current counts
// the last of the nodes opts.Hosts (0 means 6) names, opts.CurrentOn
// selects among the nodes and the builders. It also checks
// opts.Builders. It starts nothing: the command line checks
// its flags with it before a lab goes down for a new one.
func CurrentHosts(opts Options) ([]string, error) {
	if opts.Hosts == 0 {
		opts.Hosts = 6
	}
	if err := checkBuilders(opts.Builders); err != nil {
		return nil, err
	}
	hosts := makeHosts(opts.Hosts)
	var names []string
	if opts.CurrentOn != "" {
		// Builders may run current Nix too; they are selected by name.
		hosts = allHosts(opts)
	}
	switch {
	case opts.Current != 0 && opts.CurrentOn != "":
		return nil, fmt.Errorf("lab: give the number of current-Nix hosts or select them, not both")
	case opts.Current < 0 || opts.Current > len(hosts):
		return nil, fmt.Errorf("lab: --current must be between 0 and the number of hosts (%d), not %d", len(hosts), opts.Current)
	case opts.Current > 0:
		for _, h := range hosts[len(hosts)-opts.Current:] {
			names = append(names, h.Name)
		}
	case opts.CurrentOn != "":
		var err error
		if names, err = selectHosts(hosts, opts.CurrentOn); err != nil {
			return nil, fmt.Errorf("lab: --current-on: %w", err)
		}
	}
	return names, nil
}

// useRoot makes the named hosts current-Nix hosts, with the root built
// first when it is not cached.
func (l *Lab) useRoot(ctx context.Context, names []string, progress io.Writer) error {
	if len(names) == 0 {
		return nil
	}
	if err := checkRootTools(); err != nil {
		return err
	}
	root, err := EnsureRoot(ctx, RootOptions{Progress: progress})
	if err != nil {
		return err
	}
	for i := range l.Hosts {
		if slices.Contains(names, l.Hosts[i].Name) {
			l.Hosts[i].Root = root.Dir
		}
	}
	return nil
}
