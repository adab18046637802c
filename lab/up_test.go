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
// own store, profile and running system, and on a mixed lab that the
// current-Nix hosts have too, with the root's Nix and OpenSSH.
func TestUpIsolatesHosts(t *testing.T) {
	for _, mode := range []string{"overlay", "nooverlay", "mixed"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "nooverlay" {
				// The fallback for machines without overlayfs.
				t.Setenv("NIXDECK_LAB_NO_OVERLAY", "1")
			}
			if mode == "mixed" {
				testIsolation(t, labtest.StartMixed(t, 4))
				return
			}
			testIsolation(t, labtest.Start(t, 3))
		})
	}
}

func testIsolation(t *testing.T, l *lab.Lab) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checkVersions(t, ctx, l)
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

// checkVersions checks that every host runs the Nix and OpenSSH that lab
// status reports for it, and that a mixed lab's current-Nix hosts do run
// other versions than the machine's hosts.
func checkVersions(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	sts, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	byRoot := map[bool]lab.Versions{}
	for _, s := range sts {
		if s.Nix == "" || s.OpenSSH == "" {
			t.Errorf("%s: status reports Nix %q, OpenSSH %q", s.Name, s.Nix, s.OpenSSH)
		}
		if nix := string(mustExec(t, l, ctx, s.Name, "nix", "--version")); !strings.HasSuffix(strings.TrimSpace(nix), " "+s.Nix) {
			t.Errorf("%s: nix --version says %q, status %q", s.Name, nix, s.Nix)
		}
		// sshd -V prints on stderr, which Exec keeps for errors.
		ssh := string(mustExec(t, l, ctx, s.Name, "sh", "-c", "/usr/sbin/sshd -V 2>&1"))
		if !strings.HasPrefix(ssh, "OpenSSH_"+s.OpenSSH) {
			t.Errorf("%s: sshd -V says %q, status %q", s.Name, ssh, s.OpenSSH)
		}
		if prev, ok := byRoot[s.Root != ""]; ok && prev != s.Versions {
			t.Errorf("%s: %+v, other hosts of its kind %+v", s.Name, s.Versions, prev)
		}
		byRoot[s.Root != ""] = s.Versions
	}
	if cur, ok := byRoot[true]; ok && cur == byRoot[false] {
		t.Errorf("current-Nix hosts run the machine's versions %+v", cur)
	}
}
