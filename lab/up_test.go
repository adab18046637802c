package lab_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nixdeck/lab"
	"nixdeck/lab/labtest"
)

// TestUpIsolatesHosts checks on a real 3-host lab that each host has its
// own store, profile and running system.
func TestUpIsolatesHosts(t *testing.T) {
	for _, mode := range []string{"overlay", "nooverlay"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "nooverlay" {
				// The fallback for machines without overlayfs.
				t.Setenv("NIXDECK_LAB_NO_OVERLAY", "1")
			}
			testIsolation(t)
		})
	}
}

func testIsolation(t *testing.T) {
	l := labtest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := map[string]string{}
	for _, h := range l.Hosts {
		cur := strings.TrimSpace(string(mustExec(t, l, ctx, h.Name, "readlink", "/run/current-system")))
		if !strings.Contains(cur, "-nixos-system-"+h.Name+"-") {
			t.Errorf("%s: /run/current-system = %q, want its own nixos-system", h.Name, cur)
		}
		if other, dup := seen[cur]; dup {
			t.Errorf("%s and %s run the same system %s", h.Name, other, cur)
		}
		seen[cur] = h.Name
		prof := strings.TrimSpace(string(mustExec(t, l, ctx, h.Name, "readlink", "-f", "/nix/var/nix/profiles/system")))
		if prof != cur {
			t.Errorf("%s: profile %q, current %q", h.Name, prof, cur)
		}
		gen := strings.TrimSpace(string(mustExec(t, l, ctx, h.Name, "readlink", "/nix/var/nix/profiles/system")))
		if gen != "system-1-link" {
			t.Errorf("%s: profile points at %q, want system-1-link", h.Name, gen)
		}
		// Builds on a host must not take the machine's nixbld uids (Nix
		// kills every process of the build user it takes).
		conf := string(mustExec(t, l, ctx, h.Name, "nix", "--extra-experimental-features", "nix-command", "show-config"))
		if !strings.Contains(conf, "build-users-group = \n") {
			t.Errorf("%s: build users are on in the host's Nix:\n%s", h.Name, conf)
		}
		booted := strings.TrimSpace(string(mustExec(t, l, ctx, h.Name, "readlink", "/run/booted-system")))
		if booted != cur {
			t.Errorf("%s: booted %q, current %q", h.Name, booted, cur)
		}
		// The host's store holds its own system and not the others'.
		for _, o := range l.Hosts {
			if o.Name == h.Name {
				continue
			}
			if _, err := os.Stat(filepath.Join(l.Dir, "hosts", o.Name, strings.TrimPrefix(cur, "/"))); err == nil {
				t.Errorf("%s's system %s is in %s's store", h.Name, cur, o.Name)
			}
		}
		if _, err := l.Exec(ctx, h.Name, []string{"nix-store", "--check-validity", cur}, nil); err != nil {
			t.Errorf("%s: own system not valid in own store: %v", h.Name, err)
		}
		mnt, err := l.Exec(ctx, h.Name, []string{"findmnt", "-n", "-o", "FSTYPE", "/nix"}, nil)
		wantOverlay := os.Getenv("NIXDECK_LAB_NO_OVERLAY") == ""
		if err != nil || (strings.TrimSpace(string(mnt)) == "overlay") != wantOverlay {
			t.Errorf("%s: /nix is a %q mount (%v), want overlay %v", h.Name, mnt, err, wantOverlay)
		}
	}
}

func mustExec(t *testing.T, l *lab.Lab, ctx context.Context, host string, argv ...string) []byte {
	t.Helper()
	out, err := l.Exec(ctx, host, argv, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
