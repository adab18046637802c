package nix_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/nix"
	"nixdeck/nix/nixtest"
)

// TestRegistrationTextLoads registers a real closure in an empty chroot
// store with `nix-store --load-db` from RegistrationText, then reads that
// store's records back: both are this machine's store's records.
func TestRegistrationTextLoads(t *testing.T) {
	needChrootStore(t)
	sys := nixtest.LargeClosure(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	paths, err := nix.Requisites(ctx, nix.LocalRunner{}, []string{sys})
	if err != nil {
		t.Fatal(err)
	}
	infos, err := nix.PathInfos(ctx, nix.LocalRunner{}, paths)
	if err != nil {
		t.Fatal(err)
	}
	text := nix.RegistrationText(infos)
	target := nix.LocalRunner{Env: append(os.Environ(), "NIX_REMOTE=local?root="+t.TempDir())}
	if err := target.Run(ctx, nix.Cmd{Argv: []string{"nix-store", "--load-db"}, Stdin: strings.NewReader(text)}); err != nil {
		t.Fatal(err)
	}
	dump := func(r nix.Runner) string {
		var out bytes.Buffer
		if err := r.Run(ctx, nix.Cmd{Argv: append([]string{"nix-store", "--dump-db"}, paths...), Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	want := dump(nix.LocalRunner{})
	if text != want {
		t.Errorf("RegistrationText:\n%s\nthis machine's store dumps:\n%s", text, want)
	}
	if back := dump(target); back != want {
		t.Errorf("the loaded store dumps\n%s\nwant\n%s", back, want)
	}
}

// needChrootStore skips a test that needs Nix and a second store on this
// machine (local?root=DIR, as a lab host has) unless both are possible.
func needChrootStore(t *testing.T) {
	t.Helper()
	nixtest.NeedNix(t)
	testenv.NeedRoot(t, "a chroot store needs root")
}
