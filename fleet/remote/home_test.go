package remote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kevinburke/ssh_config"

	"nixdeck/fleet/remote/sshtest"
)

func TestHomeDir(t *testing.T) {
	for _, c := range []struct{ home, want, wantErr string }{
		{home: "", wantErr: "$HOME is not set"},
		{home: "op", wantErr: `$HOME ("op") is not an absolute path`},
		{home: "/home/op/", want: "/home/op"},
	} {
		t.Setenv("HOME", c.home)
		got, err := HomeDir()
		if got != c.want || (err == nil) != (c.wantErr == "") || err != nil && err.Error() != c.wantErr {
			t.Errorf("HOME=%q: HomeDir() = %q, %v; want %q, %q", c.home, got, err, c.want, c.wantErr)
		}
	}
}

// TestNoHomeNeverReadsWorkingDir: without a usable $HOME, nothing is
// looked for in ./.ssh, although the working directory holds a key the
// server accepts, a known_hosts that trusts it and an ssh config; the
// errors say what is missing.
func TestNoHomeNeverReadsWorkingDir(t *testing.T) {
	s := startServer(t)
	f := newFixture(t, s)
	f.trust(t, s)
	cwd := t.TempDir()
	t.Chdir(cwd)
	sshtest.WriteKeyFile(t, filepath.Join(cwd, ".ssh", "id_ed25519"), f.priv)
	sshtest.AppendFile(t, filepath.Join(cwd, ".ssh", "known_hosts"), s.KnownHosts())
	sshtest.AppendFile(t, filepath.Join(cwd, ".ssh", "config"), "Host *\n  User nobody\n")
	for _, home := range []string{"", "rel"} {
		t.Run("HOME="+home, func(t *testing.T) {
			t.Setenv("HOME", home)
			if home == "" {
				os.Unsetenv("HOME")
			}
			missing := "$HOME is not set"
			if home != "" {
				missing = `$HOME ("rel") is not an absolute path`
			}
			if cfg, err := loadSSHConfig(""); err != nil || cfg.cfg != nil {
				t.Errorf("loadSSHConfig(\"\") = %v, %v; want no config", cfg.cfg, err)
			}
			cases := []struct {
				name  string
				setup func(tg *Target)
				want  []string
			}{
				{"default known_hosts", func(tg *Target) { tg.KnownHosts = "" },
					[]string{"web01: cannot find ~/.ssh/known_hosts: " + missing + "; set HOME, or known_hosts in the fleet file"}},
				{"default identities", func(tg *Target) { tg.Identity = "" },
					[]string{"web01", "no SSH keys to offer", "no default identity files (~/.ssh/id_*): " + missing}},
				{"~ identity", func(tg *Target) { tg.Identity = "~/.ssh/id_ed25519" },
					[]string{"web01: identity ~/.ssh/id_ed25519: cannot find the home directory: " + missing}},
				{"~ known_hosts", func(tg *Target) { tg.KnownHosts = "~/.ssh/known_hosts" },
					[]string{"web01: known_hosts ~/.ssh/known_hosts: cannot find the home directory: " + missing}},
			}
			cfg, err := ssh_config.Decode(strings.NewReader("Host db\n  IdentityFile %d/.ssh/db\n"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = resolve(Target{Name: "db", Host: "db", KnownHosts: "/kh"}, sshConfig{cfg})
			assertErrContains(t, err, "db: ssh config IdentityFile %d/.ssh/db: cannot find the home directory: "+missing)
			if e, err := resolve(Target{Name: "n", Host: "h", KnownHosts: "/kh"}, sshConfig{}); err != nil || e.identities != nil || e.knownHosts != "/kh" {
				t.Errorf("resolve with known_hosts named = %+v, %v; want no identities", e, err)
			}
			for _, c := range cases {
				tg := f.target(s)
				c.setup(&tg)
				cl, err := Dial(context.Background(), tg, testOptions())
				if err == nil {
					cl.Close()
					t.Errorf("%s: Dial succeeded", c.name)
					continue
				}
				assertErrContains(t, err, c.want...)
			}
		})
	}
}
