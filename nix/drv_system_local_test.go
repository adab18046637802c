package nix_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestDrvSystemsLocal reads the system types of two derivations this
// machine's Nix instantiated, one for another platform.
func TestDrvSystemsLocal(t *testing.T) {
	nixtest.NeedNix(t)
	var drvs []string
	for _, sys := range []string{"x86_64-linux", "aarch64-linux"} {
		expr := `derivation { name = "drv-system-` + sys + `"; system = "` + sys + `"; builder = "/bin/sh"; }`
		out, err := exec.Command("nix-instantiate", "--expr", expr).Output()
		if err != nil {
			t.Fatalf("nix-instantiate: %v", err)
		}
		drvs = append(drvs, strings.TrimSpace(string(out)))
	}
	got, err := nix.DrvSystems(context.Background(), nix.LocalRunner{}, drvs)
	if err != nil {
		t.Fatal(err)
	}
	if got[drvs[0]] != "x86_64-linux" || got[drvs[1]] != "aarch64-linux" {
		t.Errorf("DrvSystems = %v", got)
	}
}
