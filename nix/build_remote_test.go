package nix

import (
	"context"
	"strings"
	"testing"
)

func TestBuildOnTarget(t *testing.T) {
	const (
		drv = "/nix/store/9759xz0cg94hsyyp7grjpghvh2y6lkrn-nixos-system-web1-24.05.drv"
		src = "/nix/store/m509pwgl6wc93bzp5rf0r899skb21j6n-builder.sh"
	)
	drvClosure := src + "\n" + drv + "\n"
	tests := []struct {
		name    string
		script  func(local, remote *fakeStore)
		want    string
		wantErr string
		logs    int
	}{{
		name: "the derivation travels, the build happens on the host",
		script: func(local, remote *fakeStore) {
			remote.add(local.paths[src])
			remote.cmds.expect("nix-store", "--realise", drv).priv().
				errout("these 1 derivations will be built:\n  " + drv + "\nbuilding '" + drv + "'...\n").out(outA + "\n")
		},
		want: outA,
		logs: 3,
	}, {
		name: "a failed remote build carries Nix's last lines",
		script: func(local, remote *fakeStore) {
			remote.add(local.paths[src], local.paths[drv])
			remote.cmds.expect("nix-store", "--realise", drv).priv().errout(buildFailure).exit(1)
		},
		wantErr: "failed with exit code 3",
		logs:    7,
	}, {
		// The host names the result: it must be one store path, and what
		// it printed instead is quoted in a few bytes.
		name: "a result that is not a store path",
		script: func(local, remote *fakeStore) {
			remote.add(local.paths[src], local.paths[drv])
			remote.cmds.expect("nix-store", "--realise", drv).priv().out("/etc/" + strings.Repeat("x", 10000) + "\n")
		},
		wantErr: "(4096 bytes), want one store path",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, remote := newFakeStore(t), newFakeStore(t)
			local.add(fakePathOf(src, "builder"), fakePathOf(drv, "Derive(...)", src))
			local.cmds.expect("nix-store", "--query", "--requisites", drv).out(drvClosure)
			local.cmds.expect("nix-store", "--dump-db", src, drv).out(local.dumpDB(src, drv))
			tt.script(local, remote)
			var logs []string
			got, err := BuildOnTarget(context.Background(), local, remote, drv, func(l string) { logs = append(logs, l) })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || len(err.Error()) > 2000 {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil || got != tt.want {
				t.Fatalf("BuildOnTarget() = %q, %v; want %q", got, err, tt.want)
			}
			if len(logs) != tt.logs {
				t.Errorf("logs %q, want %d lines", logs, tt.logs)
			}
		})
	}
}

func TestInstantiateClassic(t *testing.T) {
	f := newFakeRunner(t)
	f.expect("nix-instantiate", "/srv/fleet/default.nix", "-A", "db1", "-A", "web1").out(drvB + "\n" + drvA + "\n").
		errout("warning: you did not specify '--add-root'; the result might be removed by the garbage collector\n")
	got, err := Instantiate(context.Background(), f, BuildRequest{File: "/srv/fleet/default.nix", Attrs: map[string]string{"web1": "web1", "db1": "db1", "db2": "db1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got["web1"].DrvPath != drvA || got["db2"].DrvPath != drvB || got["db1"].OutPath != "" {
		t.Errorf("Instantiate() = %+v", got)
	}
}
