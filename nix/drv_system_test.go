package nix

import (
	"context"
	"strings"
	"testing"
)

const (
	drvX86 = "/nix/store/9759xz0cg94hsyyp7grjpghvh2y6lkrn-nixos-system-web1-24.05.drv"
	drvArm = "/nix/store/magb1p8sdvp977mfks5nbhrx23qjw53n-nixos-system-pi1-24.05.drv"
)

// One show-derivation reads every derivation's system type, keyed by
// path (Nix 2.8) or by base name.
func TestDrvSystems(t *testing.T) {
	argv := NixCmd("show-derivation", drvX86, drvArm)
	f := newFakeRunner(t)
	f.expect(argv...).out(`{"` + drvX86 + `":{"outputs":{},"system":"x86_64-linux","env":{}},` +
		`"magb1p8sdvp977mfks5nbhrx23qjw53n-nixos-system-pi1-24.05.drv":{"system":"aarch64-linux"}}`)
	got, err := DrvSystems(context.Background(), f, []string{drvX86, drvArm})
	if err != nil {
		t.Fatal(err)
	}
	if got[drvX86] != "x86_64-linux" || got[drvArm] != "aarch64-linux" || len(got) != 2 {
		t.Errorf("DrvSystems = %v", got)
	}
}

// What show-derivation prints is checked: every derivation asked about,
// a system type of the expected shape.
func TestDrvSystemsHostile(t *testing.T) {
	for name, out := range map[string]string{
		"not JSON":    "<html>",
		"missing":     `{"` + drvX86 + `":{"system":"x86_64-linux"}}`,
		"no system":   `{"` + drvX86 + `":{"system":"x86_64-linux"},"` + drvArm + `":{}}`,
		"escape":      `{"` + drvX86 + `":{"system":"x86_64-linux"},"` + drvArm + `":{"system":"x\u001b[2J"}}`,
		"too long":    `{"` + drvX86 + `":{"system":"x86_64-linux"},"` + drvArm + `":{"system":"` + strings.Repeat("a", 65) + `"}}`,
		"not string":  `{"` + drvX86 + `":{"system":"x86_64-linux"},"` + drvArm + `":{"system":7}}`,
		"empty value": `{"` + drvX86 + `":{"system":"x86_64-linux"},"` + drvArm + `":{"system":""}}`,
	} {
		f := newFakeRunner(t)
		f.expect(NixCmd("show-derivation", drvX86, drvArm)...).out(out)
		if got, err := DrvSystems(context.Background(), f, []string{drvX86, drvArm}); err == nil {
			t.Errorf("%s: accepted as %v", name, got)
		} else if strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("%s: the error carries an escape: %q", name, err)
		}
	}
}
