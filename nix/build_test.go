package nix

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

const (
	drvA  = "/nix/store/9759xz0cg94hsyyp7grjpghvh2y6lkrn-nixos-system-web1-24.05.drv"
	outA  = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-web1-24.05"
	drvB  = "/nix/store/magb1p8sdvp977mfks5nbhrx23qjw53n-nixos-system-db1-24.05.drv"
	outB  = "/nix/store/s45s24jw7h4n7myhwab2lpiqfnsfx70m-nixos-system-db1-24.05"
	flake = "path:/srv/fleet"
	tlA   = "nixosConfigurations.web1.config.system.build.toplevel"
	tlB   = "nixosConfigurations.db1.config.system.build.toplevel"
)

// nixBuildJSON is what Nix 2.8 prints: sorted by derivation, not in
// installable order (db1's drv sorts after web1's here).
const nixBuildJSON = `[{"drvPath":"` + drvA + `","outputs":{"out":"` + outA + `"}},{"drvPath":"` + drvB + `","outputs":{"out":"` + outB + `"}}]` + "\n"

const buildFailure = `building '/nix/store/1qh0f25lgm2fq72cmi2i45g0kp57snw3-nixos-system-db1-24.05.drv'...
nixos-system-db1> line1
nixos-system-db1> oops
error: builder for '/nix/store/1qh0f25lgm2fq72cmi2i45g0kp57snw3-nixos-system-db1-24.05.drv' failed with exit code 3;
       last 2 log lines:
       > line1
       > oops
`

func TestBuild(t *testing.T) {
	evalArgv := NixCmd("eval", "--json", flake+"#nixosConfigurations", "--apply",
		`x: let f = d: { d = d.drvPath; o = d.outPath; }; in [ (f x."db1"."config"."system"."build"."toplevel") (f x."web1"."config"."system"."build"."toplevel") ]`)
	evalOut := `[{"d":"` + drvB + `","o":"` + outB + `"},{"d":"` + drvA + `","o":"` + outA + `"}]` + "\n"
	tests := []struct {
		name     string
		req      BuildRequest
		script   func(f *fakeRunner)
		want     map[string]string
		wantErr  string
		failed   []string
		wantLogs int
	}{{
		name: "one attribute shared by two nodes needs no eval",
		req:  BuildRequest{Flake: flake, Attrs: map[string]string{"web1": "sys", "web2": "sys"}},
		script: func(f *fakeRunner) {
			f.expect(NixCmd("build", "--json", "--keep-going", "-L", "--no-link", flake+"#sys")...).
				out(`[{"drvPath":"` + drvA + `","outputs":{"out":"` + outA + `"}}]`).
				errout("building '" + drvA + "'...\n")
		},
		want:     map[string]string{"web1": outA, "web2": outA},
		wantLogs: 1,
	}, {
		name: "two attributes map back by derivation, not by order",
		req:  BuildRequest{Flake: flake, Attrs: map[string]string{"web1": tlA, "db1": tlB}, RootDir: "/tmp/roots"},
		script: func(f *fakeRunner) {
			f.expect(evalArgv...).out(evalOut)
			f.expect(NixCmd("build", "--json", "--keep-going", "-L", "--out-link", "/tmp/roots/result", flake+"#"+tlB, flake+"#"+tlA)...).
				out(nixBuildJSON)
		},
		want: map[string]string{"web1": outA, "db1": outB},
	}, {
		name: "a failed node is named and the others still deploy",
		req:  BuildRequest{Flake: flake, Attrs: map[string]string{"web1": tlA, "db1": tlB}, RootDir: "/r"},
		script: func(f *fakeRunner) {
			f.expect(evalArgv...).out(evalOut)
			f.expect(NixCmd("build", "--json", "--keep-going", "-L", "--out-link", "/r/result", flake+"#"+tlB, flake+"#"+tlA)...).
				errout(buildFailure).exit(1)
			f.expect("nix-store", "--check-validity", "--print-invalid", outB, outA).out(outB + "\n")
			f.expect("nix-store", "--realise", outA, "--add-root", "/r/partial")
		},
		want:     map[string]string{"web1": outA},
		wantErr:  "build db1: ",
		failed:   []string{"db1"},
		wantLogs: 7,
	}, {
		name: "a flake relative to its directory: every command runs there",
		req:  BuildRequest{Flake: "path:.", WorkDir: "/srv/my fleet", Attrs: map[string]string{"web1": tlA, "db1": tlB}, RootDir: "/r"},
		script: func(f *fakeRunner) {
			f.expect(NixCmd("eval", "--json", "path:.#nixosConfigurations", "--apply", evalArgv[len(evalArgv)-1])...).inDir("/srv/my fleet").out(evalOut)
			f.expect(NixCmd("build", "--json", "--keep-going", "-L", "--out-link", "/r/result", "path:.#"+tlB, "path:.#"+tlA)...).inDir("/srv/my fleet").
				errout(buildFailure).exit(1)
			f.expect("nix-store", "--check-validity", "--print-invalid", outB, outA).inDir("/srv/my fleet").out(outB + "\n")
			f.expect("nix-store", "--realise", outA, "--add-root", "/r/partial").inDir("/srv/my fleet")
		},
		want:     map[string]string{"web1": outA},
		wantErr:  "build db1: ",
		failed:   []string{"db1"},
		wantLogs: 7,
	}, {
		name: "a node that does not evaluate fails alone: each attribute is built on its own",
		req:  BuildRequest{Flake: flake, Attrs: map[string]string{"web1": tlA, "web2": tlA, "db1": tlB}, RootDir: "/r"},
		script: func(f *fakeRunner) {
			f.expect(evalArgv...).errout("error: attribute 'db1' missing\n").exit(1)
			f.expect(NixCmd("build", "--json", "--keep-going", "-L", "--out-link", "/r/attr-0", flake+"#"+tlB)...).unordered().
				errout("error: flake 'path:/srv/fleet' does not provide attribute '" + tlB + "'\n").exit(1)
			f.expect(NixCmd("build", "--json", "--keep-going", "-L", "--out-link", "/r/attr-1", flake+"#"+tlA)...).unordered().
				out(`[{"drvPath":"` + drvA + `","outputs":{"out":"` + outA + `"}}]`)
		},
		want:     map[string]string{"web1": outA, "web2": outA},
		wantErr:  "build db1: flake 'path:/srv/fleet' does not provide attribute '" + tlB + "'",
		failed:   []string{"db1"},
		wantLogs: 1,
	}, {
		name: "a classic nix-build that fails is redone per attribute",
		req:  BuildRequest{File: "/srv/fleet/default.nix", Attrs: map[string]string{"web1": "web1", "db1": "db1"}},
		script: func(f *fakeRunner) {
			f.expect("nix-build", "/srv/fleet/default.nix", "-A", "db1", "-A", "web1", "--no-out-link").
				errout("error: attribute 'db1' in selection path 'db1' not found\n").exit(1)
			f.expect("nix-build", "/srv/fleet/default.nix", "-A", "db1", "--no-out-link").unordered().
				errout("error: attribute 'db1' in selection path 'db1' not found\n").exit(1)
			f.expect("nix-build", "/srv/fleet/default.nix", "-A", "web1", "--no-out-link").unordered().out(outA + "\n")
		},
		want:     map[string]string{"web1": outA},
		wantErr:  "build db1: attribute 'db1' in selection path 'db1' not found",
		failed:   []string{"db1"},
		wantLogs: 2,
	}, {
		name: "attributes without a common prefix are evaluated one by one",
		req:  BuildRequest{Flake: flake, Attrs: map[string]string{"a": "x", "b": "y"}},
		script: func(f *fakeRunner) {
			fn := "d: { d = d.drvPath; o = d.outPath; }"
			f.expect(NixCmd("eval", "--json", flake+"#x", "--apply", fn)...).out(`{"d":"` + drvA + `","o":"` + outA + `"}`)
			f.expect(NixCmd("eval", "--json", flake+"#y", "--apply", fn)...).out(`{"d":"` + drvB + `","o":"` + outB + `"}`)
			f.expect(NixCmd("build", "--json", "--keep-going", "-L", "--no-link", flake+"#x", flake+"#y")...).out(nixBuildJSON)
		},
		want: map[string]string{"a": outA, "b": outB},
	}, {
		name: "classic nix-build prints results in -A order",
		req:  BuildRequest{File: "/srv/fleet/default.nix", Attrs: map[string]string{"web1": "web1", "db1": "db1", "db2": "db1"}},
		script: func(f *fakeRunner) {
			f.expect("nix-build", "/srv/fleet/default.nix", "-A", "db1", "-A", "web1", "--no-out-link").
				out(outB + "\n" + outA + "\n").
				errout("these 2 derivations will be built:\n  " + drvB + "\n  " + drvA + "\n")
		},
		want:     map[string]string{"web1": outA, "db1": outB, "db2": outB},
		wantLogs: 3,
	}, {
		name: "classic failure names the nodes and keeps Nix's last lines",
		req:  BuildRequest{File: "/srv/fleet/default.nix", Attrs: map[string]string{"db1": "db1"}, RootDir: "/r"},
		script: func(f *fakeRunner) {
			f.expect("nix-build", "/srv/fleet/default.nix", "-A", "db1", "--out-link", "/r/result").errout(buildFailure).exit(100)
		},
		wantErr:  "       > oops",
		failed:   []string{"db1"},
		wantLogs: 7,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRunner(t)
			tt.script(f)
			var logs []string
			tt.req.Log = func(l string) { logs = append(logs, l) }
			got, err := Build(context.Background(), f, tt.req)
			if !maps.Equal(got, tt.want) {
				t.Errorf("Build() = %v, want %v", got, tt.want)
			}
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Build() error: %v", err)
			}
			if tt.wantErr != "" {
				var be *BuildError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &be) {
					t.Fatalf("Build() error = %v, want *BuildError containing %q", err, tt.wantErr)
				}
				if strings.Join(be.Nodes, ",") != strings.Join(tt.failed, ",") {
					t.Errorf("failed nodes = %v, want %v", be.Nodes, tt.failed)
				}
				if ne := NodeErrors(err); !slices.Equal(slices.Sorted(maps.Keys(ne)), tt.failed) {
					t.Errorf("NodeErrors() names %v, want %v", slices.Sorted(maps.Keys(ne)), tt.failed)
				}
			}
			if len(logs) != tt.wantLogs {
				t.Errorf("got %d log lines %q, want %d", len(logs), logs, tt.wantLogs)
			}
		})
	}
}

// Several failures joined: each node gets its own; the message never
// holds the command line, only the step and what Nix said.
func TestNodeErrors(t *testing.T) {
	a := &BuildError{Nodes: []string{"web1", "web2"}, Phase: "build", Tail: "web1> compiling\nerror: attribute 'x' missing\n\n       at «string»:1:1:",
		Err: &ExitError{Argv: NixCmd("build", "--json", flake+"#x"), Code: 1}}
	b := &BuildError{Nodes: []string{"db1"}, Phase: "evaluate", Err: &ExitError{Argv: NixCmd("eval"), Code: -1, Signal: "KILL"}}
	ne := NodeErrors(fmt.Errorf("diff: %w", errors.Join(a, b)))
	if len(ne) != 3 || ne["web1"] != a || ne["web2"] != a || ne["db1"] != b {
		t.Fatalf("NodeErrors() = %v", ne)
	}
	if got, want := a.Error(), "build web1, web2: attribute 'x' missing\n\n       at «string»:1:1:"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := b.Error(), "evaluate db1: nix killed by signal KILL"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSplitAttrPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nixosConfigurations.web1.config.system.build.toplevel", "nixosConfigurations|web1|config|system|build|toplevel"},
		{`nixosConfigurations."web.example.org".config`, `nixosConfigurations|"web.example.org"|config`},
		{"x", "x"},
	}
	for _, tt := range tests {
		if got := strings.Join(splitAttrPath(tt.in), "|"); got != tt.want {
			t.Errorf("splitAttrPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := nixAttrSel(splitAttrPath(`"a.b".c`)); got != `."a.b"."c"` {
		t.Errorf("nixAttrSel = %s", got)
	}
	if got := nixString(`a"${b}\`); got != `"a\"\${b}\\"` {
		t.Errorf("nixString = %s", got)
	}
}
