package fleet

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"nixdeck/nix"
)

// TestBuildWhere builds two nodes on a builder and one here with a fake
// Nix: one evaluation and one remote build for the builder's nodes, at
// its max_jobs, through a generated ssh_config; the local node's usual
// build; each BuiltEvent says where; the builder's GC roots go at Close.
func TestBuildWhere(t *testing.T) {
	const (
		drvA = "/nix/store/9759xz0cg94hsyyp7grjpghvh2y6lkrn-nixos-system-web1-24.05.drv"
		outA = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05"
		drvB = "/nix/store/magb1p8sdvp977mfks5nbhrx23qjw53n-nixos-system-web2-24.05.drv"
		outB = "/nix/store/s45s24jw7h4n7myhwab2lpiqfnsfx70m-nixos-system-web2-24.05"
		outC = "/nix/store/q5j3gzfn3gq6ivmvqyb4x0b4mmcps9ml-nixos-system-db1-24.05"
	)
	var mu sync.Mutex
	var ran []string
	var sshConfig string
	local := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		mu.Lock()
		defer mu.Unlock()
		line := strings.Join(c.Argv, " ")
		ran = append(ran, line)
		switch {
		case slices.Contains(c.Argv, "eval"):
			_, err := io.WriteString(c.Stdout, `[{"d":"`+drvA+`","o":"`+outA+`"},{"d":"`+drvB+`","o":"`+outB+`"}]`)
			return err
		case slices.Contains(c.Argv, "copy"):
			if len(c.Env) != 1 || !strings.HasPrefix(c.Env[0], "NIX_SSHOPTS=-F ") {
				t.Errorf("copy without NIX_SSHOPTS: %q", c.Env)
			} else {
				b, err := os.ReadFile(strings.TrimPrefix(c.Env[0], "NIX_SSHOPTS=-F "))
				sshConfig = string(b) + errString(err)
			}
		case slices.Contains(c.Argv, "--realise"):
			_, err := io.WriteString(c.Stdout, outA+"\n"+outB+"\n")
			return err
		case slices.Contains(c.Argv, "build"):
			_, err := io.WriteString(c.Stdout, `[{"drvPath":"/nix/store/x.drv","outputs":{"out":"`+outC+`"}}]`)
			return err
		}
		return nil
	})
	var roots []string
	builder := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		mu.Lock()
		defer mu.Unlock()
		roots = append(roots, c.Argv[len(c.Argv)-1])
		return nil
	})
	b := &Builder{Name: "big", Host: "build01.example.org", MaxJobs: 8, Settings: Settings{Port: 2222, KnownHosts: "/etc/kh"}}
	f := &Fleet{Flake: "github:org/fleet", Deploy: Deploy{Parallel: 2}, Builders: []*Builder{b}}
	ns := nodes("web1", "web2", "db1")
	ns[0].BuildOn, ns[1].BuildOn = "builder:big", "builder:big"
	e := Open(f, Options{Connector: fakeConnector{runners: map[string]nix.Runner{"builder:big": builder}}, Local: local})
	where := map[string]string{}
	onBuilder := 0
	for ev := range e.Build(context.Background(), ns, "").All() {
		switch ev := ev.(type) {
		case CommandEvent: // the logs say where each ran
			if ev.Local == (ev.Builder != "") || !ev.Local && ev.Builder != "builder:big" {
				t.Errorf("%q ran with local=%v builder=%q", ev.Argv, ev.Local, ev.Builder)
			}
			if _, text, _ := logLine(ev); !ev.Local && !strings.HasPrefix(text, "(builder:big) $ ") {
				t.Errorf("logged as %q", text)
			}
			if ev.Builder != "" {
				onBuilder++
			}
		case BuiltEvent:
			where[ev.Host()] = ev.System + " " + ev.Where
		case DoneEvent:
			if ev.Err != nil {
				t.Errorf("%s: %v", ev.Host(), ev.Err)
			}
		}
	}
	want := map[string]string{"web1": outA + " builder:big", "web2": outB + " builder:big", "db1": outC + " local"}
	for n, w := range want {
		if where[n] != w {
			t.Errorf("%s built %q, want %q", n, where[n], w)
		}
	}
	realise := slices.IndexFunc(ran, func(s string) bool { return strings.Contains(s, "--realise") })
	if realise < 0 || ran[realise] != "nix-store --store ssh-ng://build01.example.org --realise --keep-going --max-jobs 8 "+drvA+" "+drvB {
		t.Errorf("commands:\n%s", strings.Join(ran, "\n"))
	}
	if !strings.Contains(sshConfig, "Host build01.example.org\n  Port 2222\n") || !strings.Contains(sshConfig, `UserKnownHostsFile "/etc/kh"`) {
		t.Errorf("ssh config:\n%s", sshConfig)
	}
	if onBuilder != 2 {
		t.Errorf("%d commands reported as run on the builder, want its 2 roots", onBuilder)
	}
	if len(roots) != 2 || !strings.HasPrefix(roots[0], nix.GCRootDir+"/build-") {
		t.Errorf("roots %q", roots)
	}
	e.Close()
	if len(roots) != 4 || roots[2] != roots[0] || roots[3] != roots[1] {
		t.Errorf("roots after Close %q: each made, then removed", roots)
	}
}

func errString(err error) string {
	if err != nil {
		return err.Error()
	}
	return ""
}
