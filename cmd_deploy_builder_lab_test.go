package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestDeployFromBuilderOnLab runs `nixdeck deploy --yes` on a lab whose
// fleet builds on a builder and pushes to a signed cache: the output says
// where each system was built, that the push went, that the diff's reboot
// hint is unknown for them, and every host ends done; this machine's
// store has none of the systems.
func TestDeployFromBuilderOnLab(t *testing.T) {
	t.Setenv("NIX_CONFIG", "substituters =")
	l := labtest.StartWith(t, lab.Options{Hosts: 3, Builders: 1, Cache: true})
	b, err := os.ReadFile(l.FleetPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.FleetPath, []byte(strings.Replace(string(b), "\ndefaults:\n", "\ndefaults:\n  build_on: builder:build01\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Change("", lab.ChangeOptions{Bump: true}); err != nil {
		t.Fatal(err)
	}
	bin := buildNixdeck(t)
	r := nixdeckRun(t, bin, t.TempDir(), l, "deploy", "--yes")
	code := r.wait(t)
	out := r.stdout()
	if code != 0 {
		t.Fatalf("exit %d:\n%s\n%s", code, out, r.stderr.String())
	}
	for _, want := range []string{"cache: pushing ", "cache: pushed ", "canary | the new system is in the store of builder:build01"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	built := regexp.MustCompile(`(?m)^(\S+) +\| built (\S+) on builder:build01$`).FindAllStringSubmatch(out, -1)
	if len(built) != 3 {
		t.Fatalf("built lines %q:\n%s", built, out)
	}
	for _, h := range l.Nodes() {
		if !strings.Contains(out, h.Name+" ") || !regexp.MustCompile(`(?m)^`+h.Name+` +\| done in `).MatchString(out) {
			t.Errorf("%s not done:\n%s", h.Name, out)
		}
		cur, err := l.Exec(t.Context(), h.Name, []string{"readlink", "/run/current-system"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		sys := strings.TrimSpace(string(cur))
		if exec.Command("nix-store", "--check-validity", sys).Run() == nil {
			t.Errorf("%s runs %s, which this machine's store holds", h.Name, sys)
		}
	}
}
