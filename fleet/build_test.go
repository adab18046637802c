package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"nixdeck/nix"
)

// TestBuildEvents builds two nodes sharing one attribute with a fake Nix:
// one build, Nix's output as the operation's log, the command reported
// as the operation's, each node's system and DoneEvent.
func TestBuildEvents(t *testing.T) {
	const sys = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05"
	var builds int
	local := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		if !slices.Contains(c.Argv, "build") || !slices.Contains(c.Argv, "github:org/fleet#"+DefaultAttr("web1")) {
			return fmt.Errorf("unexpected %v", c.Argv)
		}
		builds++
		io.WriteString(c.Stderr, "building '/nix/store/aaaa-nixos-system-web1-24.05.drv'...\n")
		_, err := io.WriteString(c.Stdout, `[{"drvPath":"/nix/store/aaaa-nixos-system-web1-24.05.drv","outputs":{"out":"`+sys+`"}}]`)
		return err
	})
	ns := nodes("web1", "alias")
	ns[1].Attr = DefaultAttr("web1")
	e := Open(&Fleet{Flake: "github:org/fleet", Deploy: Deploy{Parallel: 1}}, Options{Connector: fakeConnector{}, Local: local})
	defer e.Close()
	var seq []string
	for ev := range e.Build(context.Background(), ns, "").All() {
		switch ev := ev.(type) {
		case LogEvent:
			seq = append(seq, fmt.Sprintf("%s log %s: %s", ev.Host(), ev.Source, ev.Line))
		case CommandEvent:
			seq = append(seq, fmt.Sprintf("%s ran %s locally=%v exit %d", ev.Host(), ev.Argv[0], ev.Local, ev.Exit))
		case BuiltEvent:
			seq = append(seq, ev.Host()+" built "+ev.System)
		case DoneEvent:
			seq = append(seq, fmt.Sprintf("%s done %v", ev.Host(), ev.Err))
		case OpFinished:
			seq = append(seq, fmt.Sprintf("finished %v", ev.Err))
		}
	}
	want := []string{
		" log build: building '/nix/store/aaaa-nixos-system-web1-24.05.drv'...",
		" ran nix locally=true exit 0",
		"web1 built " + sys, "alias built " + sys,
		"web1 done <nil>", "alias done <nil>", "finished <nil>",
	}
	if !slices.Equal(seq, want) || builds != 1 {
		t.Errorf("%d builds, events\n%s\nwant\n%s", builds, strings.Join(seq, "\n"), strings.Join(want, "\n"))
	}
}

// A build that fails as a whole (here Nix's answer makes no sense) fails
// the operation, and every node with it.
func TestBuildFailsAsAWhole(t *testing.T) {
	local := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		_, err := io.WriteString(c.Stdout, "not json")
		return err
	})
	e := Open(&Fleet{Flake: "github:org/fleet"}, Options{Connector: fakeConnector{}, Local: local})
	defer e.Close()
	ns := nodes("web1")
	var done []error
	err := collect(ns, e.Build(context.Background(), ns, "").All(), func(i int, ev Event) {
		if d, ok := ev.(DoneEvent); ok {
			done = append(done, d.Err)
		}
	})
	if err == nil || !strings.Contains(err.Error(), "cannot parse nix build --json output") {
		t.Fatalf("OpFinished.Err = %v", err)
	}
	var he *HostError
	if len(done) != 1 || !errors.As(done[0], &he) || he.Host != "web1" || he.Step != "build" || done[0].Error() != "web1: build: "+err.Error() {
		t.Errorf("web1 ended with %v", done)
	}
}

// A node left without a system gets its own error: the step and Nix's
// message, without the command line or the other nodes.
func TestBuildFailure(t *testing.T) {
	typo := &nix.BuildError{Nodes: []string{"typo"}, Phase: "build",
		Tail: "error: flake 'path:/srv/fleet' does not provide attribute 'nixosConfigurations.nosuch'",
		Err:  &nix.ExitError{Argv: nix.NixCmd("build", "--json", "path:/srv/fleet#nixosConfigurations.nosuch"), Code: 1}}
	stopped := &nix.BuildError{Nodes: []string{"db1"}, Phase: "evaluate", Err: fmt.Errorf("nix stopped: %w", context.Canceled)}
	all := errors.Join(typo, stopped)
	tests := []struct {
		host     string
		own      *nix.BuildError
		buildErr error
		want     string
	}{
		{"typo", typo, all, "typo: build: flake 'path:/srv/fleet' does not provide attribute 'nixosConfigurations.nosuch'"},
		{"db1", stopped, all, "db1: evaluate: nix stopped: context canceled"},
		{"web1", nil, errors.New("nix: not found"), "web1: build: nix: not found"},
		{"web1", nil, nil, "web1: build: no system came out of it"},
	}
	for _, tt := range tests {
		err := buildFailure(tt.host, tt.own, tt.buildErr)
		if err.Error() != tt.want {
			t.Errorf("%s: %q, want %q", tt.host, err, tt.want)
		}
		var be *nix.BuildError
		if tt.own != nil && (!errors.As(err, &be) || be != tt.own) {
			t.Errorf("%s: %v does not keep its *nix.BuildError", tt.host, err)
		}
	}
	if err := buildFailure("db1", stopped, all); !errors.Is(err, context.Canceled) {
		t.Errorf("%v lost context.Canceled", err)
	}
}
