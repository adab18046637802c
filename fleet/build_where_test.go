package fleet

import (
	"context"
	"encoding/json"
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
	fk := newBuilderFake(t, map[string]string{drvA: "x86_64-linux", drvB: "x86_64-linux"})
	fk.eval = `[{"d":"` + drvA + `","o":"` + outA + `"},{"d":"` + drvB + `","o":"` + outB + `"}]`
	fk.realised = outA + "\n" + outB + "\n"
	fk.built = outC
	local, builder := fk.local, fk.builder
	b := &Builder{Name: "big", Host: "build01.example.org", MaxJobs: 8, Systems: DefaultBuilderSystems, Settings: Settings{Port: 2222, KnownHosts: "/etc/kh"}}
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
	realise := slices.IndexFunc(fk.ran, func(s string) bool { return strings.Contains(s, "--realise") })
	if realise < 0 || fk.ran[realise] != "nix-store --store ssh-ng://build01.example.org --realise --keep-going --max-jobs 8 "+drvA+" "+drvB {
		t.Errorf("commands:\n%s", strings.Join(fk.ran, "\n"))
	}
	sshConfig := fk.sshConfig
	if !strings.Contains(sshConfig, "Host build01.example.org\n  Port 2222\n") || !strings.Contains(sshConfig, `UserKnownHostsFile "/etc/kh"`) {
		t.Errorf("ssh config:\n%s", sshConfig)
	}
	if onBuilder != 2 {
		t.Errorf("%d commands reported as run on the builder, want its 2 roots", onBuilder)
	}
	if roots := fk.roots; len(roots) != 2 || !strings.HasPrefix(roots[0], nix.GCRootDir+"/build-") {
		t.Errorf("roots %q", roots)
	}
	e.Close()
	if roots := fk.roots; len(roots) != 4 || roots[2] != roots[0] || roots[3] != roots[1] {
		t.Errorf("roots after Close %q: each made, then removed", roots)
	}
}

func errString(err error) string {
	if err != nil {
		return err.Error()
	}
	return ""
}

// builderFake is this machine's Nix and a builder's, faked for builds on
// a builder: eval, show-derivation (systems: derivation → system type),
// copy, realise and a local build answer from its fields.
type builderFake struct {
	mu                    sync.Mutex
	eval, realised, built string
	systems               map[string]string
	ran, roots            []string
	sshConfig             string
	local, builder        runnerFunc
}

func newBuilderFake(t *testing.T, systems map[string]string) *builderFake {
	fk := &builderFake{systems: systems}
	fk.local = func(ctx context.Context, c nix.Cmd) error {
		fk.mu.Lock()
		defer fk.mu.Unlock()
		fk.ran = append(fk.ran, strings.Join(c.Argv, " "))
		switch {
		case slices.Contains(c.Argv, "eval"):
			_, err := io.WriteString(c.Stdout, fk.eval)
			return err
		case slices.Contains(c.Argv, "show-derivation"):
			out := map[string]map[string]string{}
			for _, d := range c.Argv[slices.Index(c.Argv, "show-derivation")+1:] {
				out[d] = map[string]string{"system": fk.systems[d]}
			}
			return json.NewEncoder(c.Stdout).Encode(out)
		case slices.Contains(c.Argv, "copy"):
			if len(c.Env) != 1 || !strings.HasPrefix(c.Env[0], "NIX_SSHOPTS=-F ") {
				t.Errorf("copy without NIX_SSHOPTS: %q", c.Env)
			} else {
				b, err := os.ReadFile(strings.TrimPrefix(c.Env[0], "NIX_SSHOPTS=-F "))
				fk.sshConfig = string(b) + errString(err)
			}
		case slices.Contains(c.Argv, "--realise"):
			_, err := io.WriteString(c.Stdout, fk.realised)
			return err
		case slices.Contains(c.Argv, "build"):
			_, err := io.WriteString(c.Stdout, `[{"drvPath":"/nix/store/x.drv","outputs":{"out":"`+fk.built+`"}}]`)
			return err
		}
		return nil
	}
	fk.builder = func(ctx context.Context, c nix.Cmd) error {
		fk.mu.Lock()
		defer fk.mu.Unlock()
		fk.roots = append(fk.roots, c.Argv[len(c.Argv)-1])
		return nil
	}
	return fk
}

// A node whose system type the builder does not build fails before
// anything is copied to the builder, naming the node, the builder, the
// type and the builder's systems; the builder's other nodes build.
func TestBuildWhereWrongSystem(t *testing.T) {
	const (
		drvA = "/nix/store/9759xz0cg94hsyyp7grjpghvh2y6lkrn-nixos-system-web1-24.05.drv"
		outA = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05"
		drvB = "/nix/store/magb1p8sdvp977mfks5nbhrx23qjw53n-nixos-system-pi1-24.05.drv"
		outB = "/nix/store/s45s24jw7h4n7myhwab2lpiqfnsfx70m-nixos-system-pi1-24.05"
	)
	fk := newBuilderFake(t, map[string]string{drvA: "x86_64-linux", drvB: "aarch64-linux"})
	fk.eval = `[{"d":"` + drvB + `","o":"` + outB + `"},{"d":"` + drvA + `","o":"` + outA + `"}]` // pi1, web1: sorted
	fk.realised = outA + "\n"
	b := &Builder{Name: "big", Host: "build01.example.org", MaxJobs: 2, Systems: []string{"x86_64-linux", "i686-linux"}}
	f := &Fleet{Flake: "github:org/fleet", Deploy: Deploy{Parallel: 2}, Builders: []*Builder{b}}
	ns := nodes("web1", "pi1")
	ns[0].BuildOn, ns[1].BuildOn = "builder:big", "builder:big"
	e := Open(f, Options{Connector: fakeConnector{runners: map[string]nix.Runner{"builder:big": fk.builder}}, Local: fk.local})
	defer e.Close()
	res, err := CollectDiffs(ns, e.Build(context.Background(), ns, "").All())
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].New != outA {
		t.Errorf("web1: %q, %v", res[0].New, res[0].Err)
	}
	want := "pi1: build: its system is aarch64-linux, which builder big does not build (its systems: x86_64-linux, i686-linux)"
	if res[1].Err == nil || res[1].Err.Error() != want || res[1].New != "" {
		t.Errorf("pi1: %q, %v; want %s", res[1].New, res[1].Err, want)
	}
	for _, c := range fk.ran {
		if (strings.Contains(c, " copy ") || strings.Contains(c, "--realise")) && strings.Contains(c, drvB) {
			t.Errorf("pi1's derivation went to the builder: %s", c)
		}
	}
}
