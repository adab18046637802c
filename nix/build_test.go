package nix

import (
	"context"
	"errors"
	"maps"
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
		name: "evaluation error names every node",
		req:  BuildRequest{Flake: flake, Attrs: map[string]string{"web1": tlA, "db1": tlB}},
		script: func(f *fakeRunner) {
			f.expect(evalArgv...).errout("error: attribute 'db1' missing\n").exit(1)
		},
		wantErr: "evaluate db1, web1: ",
		failed:  []string{"db1", "web1"},
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
			}
			if len(logs) != tt.wantLogs {
				t.Errorf("got %d log lines %q, want %d", len(logs), logs, tt.wantLogs)
			}
		})
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
