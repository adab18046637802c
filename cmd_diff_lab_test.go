package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/lab"
	"nixdeck/lab/labtest"
	"nixdeck/nix"
)

// countingConnector counts the commands each node runs, by program.
type countingConnector struct {
	fleet.PoolConnector
	mu   sync.Mutex
	runs map[string]int // "node argv0 argv2-prefix"
}

func (c *countingConnector) Runner(ctx context.Context, n *fleet.Node) (nix.Runner, error) {
	r, err := c.PoolConnector.Runner(ctx, n)
	if err != nil {
		return nil, err
	}
	return countingRunner{r, c, n.Name}, nil
}

type countingRunner struct {
	nix.Runner
	c    *countingConnector
	node string
}

func (r countingRunner) Run(ctx context.Context, cmd nix.Cmd) error {
	kind := cmd.Argv[0]
	if cmd.Argv[0] == "sh" && cmd.Argv[2] == nix.ClosureCmd("").Argv[2] {
		kind = "closure-query"
	}
	r.c.mu.Lock()
	r.c.runs[kind]++
	r.c.mu.Unlock()
	return r.Runner.Run(ctx, cmd)
}

// TestDiffLab diffs the hosts of a mixed lab: on each kind of host (Nix
// 2.8 and OpenSSH 9.2, current Nix and OpenSSH) one host moves to release
// b with a new kernel and one stays put, and a second fleet node that
// reaches the first host shares its closure query. With --files the etc/
// diff of each changed host is read over SSH.
func TestDiffLab(t *testing.T) {
	l := labtest.StartMixed(t, 4)
	// canary and web01 run the machine's Nix, db01 and web02 current Nix.
	web := l.Hosts[0]
	changedHosts, sameHosts := []lab.Host{l.Hosts[0], l.Hosts[2]}, []lab.Host{l.Hosts[1], l.Hosts[3]}
	// An alias node for the first host: same machine, same running system.
	fleetFile, err := os.ReadFile(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	alias := fmt.Sprintf("  %s-alias:\n    host: 127.0.0.1\n    port: %d\n    attr: %s\n    vars: {health_port: %d}\n",
		web.Name, web.Port, lab.AttrPath(web.Name), web.HealthPort)
	aliased := filepath.Join(l.Dir, "fleet-alias.yaml")
	if err := os.WriteFile(aliased, append(fleetFile, alias...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Change(changedHosts[0].Name+","+changedHosts[1].Name, lab.ChangeOptions{Release: "b", Fault: "reboot"}); err != nil {
		t.Fatal(err)
	}

	pool := remote.NewPool(remote.Options{})
	defer pool.Close()
	conn := &countingConnector{PoolConnector: fleet.PoolConnector{Pool: pool}, runs: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := &diffCmd{JSON: true, Files: true, conn: conn}
	if err := cmd.runHosts(ctx, &globals{File: aliased}, &out); err != nil {
		t.Fatalf("diff: %v\n%s", err, out.String())
	}
	var diffs []*fleet.HostDiff
	if err := json.Unmarshal(out.Bytes(), &diffs); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(diffs) != 5 {
		t.Fatalf("%d host diffs, want 5", len(diffs))
	}
	byName := map[string]*fleet.HostDiff{}
	for _, d := range diffs {
		if d.Error != "" {
			t.Errorf("%s: %s", d.Host, d.Error)
		}
		byName[d.Host] = d
	}
	for _, h := range sameHosts {
		same := byName[h.Name]
		if same == nil || !same.Diff.Empty() || same.Current != same.New || len(same.Files) != 0 || same.RebootNeeded() {
			t.Errorf("%s did not change but shows %+v", h.Name, same)
		}
	}
	for _, h := range changedHosts {
		changed := byName[h.Name]
		if changed == nil {
			t.Fatalf("%s missing in %v", h.Name, byName)
		}
		if len(changed.Diff.Versions) == 0 || changed.Current == changed.New {
			t.Errorf("%s moved to release b but shows no version change: %+v", h.Name, changed.Diff)
		}
		if !changed.KernelChanged || !changed.RebootNeeded() {
			t.Errorf("%s: reboot needed %v, want true", h.Name, changed.RebootNeeded())
		}
		checkFilesOnHost(t, ctx, l, h.Name, changed.Files)
	}
	if twin, changed := byName[web.Name+"-alias"], byName[web.Name]; twin == nil || twin.Current != changed.Current || len(twin.Diff.Versions) != len(changed.Diff.Versions) {
		t.Errorf("alias node differs from its host: %+v vs %+v", twin, changed)
	}
	// Four distinct running systems on five nodes, two of them already
	// the new system, whose closure is known here: one closure query for
	// each changed host.
	if n := conn.runs["closure-query"]; n != 2 {
		t.Errorf("%d closure queries for 2 distinct systems that are not the new ones, want 2 (runs %v)", n, conn.runs)
	}
}

// checkFilesOnHost compares the host's side of a --files diff with what the
// host really has: every removed line of a modified text file is in the
// host's file.
func checkFilesOnHost(t *testing.T, ctx context.Context, l *lab.Lab, host string, files []nix.FileDiff) {
	t.Helper()
	if len(files) == 0 {
		t.Errorf("%s: release b changes no file under etc/", host)
		return
	}
	for _, f := range files {
		if f.Status != "modified" || f.Binary || f.TooLarge || f.Unified == "" {
			continue
		}
		got, err := l.Exec(ctx, host, []string{"cat", "/run/current-system/" + f.Path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(f.Unified, "\n") {
			if strings.HasPrefix(line, "-") && !strings.Contains(string(got), line[1:]) {
				t.Errorf("%s: %s: removed line %q is not in the host's file", host, f.Path, line[1:])
			}
		}
		return
	}
	t.Errorf("%s: no modified text file among %+v", host, files)
}

// A node whose attr does not exist gets its own error row, naming the
// step, while the lab host's diff still prints.
func TestDiffLabBadAttr(t *testing.T) {
	l := labtest.Start(t, 1)
	web := l.Hosts[0]
	fleetFile, err := os.ReadFile(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	typo := fmt.Sprintf("  typo:\n    host: 127.0.0.1\n    port: %d\n    attr: nixosConfigurations.nosuch.config.system.build.toplevel\n    vars: {health_port: %d}\n",
		web.Port, web.HealthPort)
	withTypo := filepath.Join(l.Dir, "fleet-typo.yaml")
	if err := os.WriteFile(withTypo, append(fleetFile, typo...), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err = (&diffCmd{JSON: true}).runHosts(ctx, &globals{File: withTypo}, &out)
	if err == nil || err.Error() != "diff: 1 of 2 hosts failed" {
		t.Errorf("runHosts() = %v, want 1 of 2 hosts failed", err)
	}
	var rows []hostRow
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, r := range rows {
		switch r.Host {
		case web.Name:
			if r.Error != "" || r.Diff == nil || r.Current == "" {
				t.Errorf("%s: %+v, want its diff", r.Host, r.HostDiff)
			}
		case "typo":
			if !strings.HasPrefix(r.Error, "typo: build: ") || !strings.Contains(r.Error, "nosuch") || strings.Contains(r.Error, "--extra-experimental-features") {
				t.Errorf("typo: error %q, want the build step and Nix's message", r.Error)
			}
		default:
			t.Errorf("unexpected host %q", r.Host)
		}
	}
}
