package nix

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSSHConfigRendersTheFleetFileValues(t *testing.T) {
	got, err := SSHConfig(SSHHost{Name: "builder:big", Host: "build01.example.com", Port: 2222, User: "nix",
		Identity: "/etc/nixdeck/id_ed25519", KnownHosts: "/etc/nixdeck/known hosts", Jump: "ops@bastion:22,10.0.0.1",
		Include: "/root/.ssh/config"})
	if err != nil {
		t.Fatal(err)
	}
	want := `# Written by nixdeck for Nix's ssh to one builder; removed after the build.
Host build01.example.com
  Port 2222
  User nix
  ProxyJump ops@bastion:22,10.0.0.1
Host *
  StrictHostKeyChecking yes
  BatchMode yes
  IdentityFile "/etc/nixdeck/id_ed25519"
  UserKnownHostsFile "/etc/nixdeck/known hosts"
  Include "/root/.ssh/config"
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// An IPv6 address cannot be a store URI's host: it gets an alias.
func TestSSHConfigAliasesAnIPv6Address(t *testing.T) {
	got, err := SSHConfig(SSHHost{Name: "builder:v6", Host: "fd00::1"})
	if err != nil || !strings.Contains(got, "Host nixdeck-builder\n  HostName fd00::1\n") {
		t.Errorf("%v:\n%s", err, got)
	}
}

// TestSSHConfigRefusesWhatSSHWouldReadAsMore feeds values that would add
// an ssh option, expand a token or a variable, or end the quoting.
func TestSSHConfigRefusesWhatSSHWouldReadAsMore(t *testing.T) {
	base := SSHHost{Name: "builder:big", Host: "build01"}
	for _, tc := range []struct {
		name string
		mod  func(*SSHHost)
	}{
		{"option as host", func(h *SSHHost) { h.Host = "-oProxyCommand=touch /tmp/x" }},
		{"newline in host", func(h *SSHHost) { h.Host = "build01\nProxyCommand touch /tmp/x" }},
		{"space in host", func(h *SSHHost) { h.Host = "build01 ProxyCommand" }},
		{"token in host", func(h *SSHHost) { h.Host = "%h.evil" }},
		{"empty host", func(h *SSHHost) { h.Host = "" }},
		{"quote in user", func(h *SSHHost) { h.User = `root" ProxyCommand "x` }},
		{"token in user", func(h *SSHHost) { h.User = "%u" }},
		{"option as user", func(h *SSHHost) { h.User = "-lroot" }},
		{"bad port", func(h *SSHHost) { h.Port = 70000 }},
		{"relative identity", func(h *SSHHost) { h.Identity = "id_ed25519" }},
		{"home identity", func(h *SSHHost) { h.Identity = "~/.ssh/id" }},
		{"variable in identity", func(h *SSHHost) { h.Identity = "/keys/${HOME}" }},
		{"quote in known_hosts", func(h *SSHHost) { h.KnownHosts = `/k"nown` }},
		{"newline in known_hosts", func(h *SSHHost) { h.KnownHosts = "/known\nProxyCommand x" }},
		{"escape in known_hosts", func(h *SSHHost) { h.KnownHosts = "/known\x1b[2J" }},
		{"option in jump", func(h *SSHHost) { h.Jump = "-oProxyCommand=x" }},
		{"space in jump", func(h *SSHHost) { h.Jump = "a b" }},
		{"bad jump port", func(h *SSHHost) { h.Jump = "bastion:x" }},
		{"bad jump user", func(h *SSHHost) { h.Jump = "a b@bastion" }},
	} {
		h := base
		tc.mod(&h)
		if got, err := SSHConfig(h); err == nil {
			t.Errorf("%s: accepted:\n%s", tc.name, got)
		} else if !strings.HasPrefix(err.Error(), "builder:big: ") {
			t.Errorf("%s: error %q does not name the builder", tc.name, err)
		}
	}
}

// TestSSHConfigAsSSHReadsIt asks the system's ssh how it reads a
// generated file (ssh -G): odd but legal paths stay one value each.
func TestSSHConfigAsSSHReadsIt(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("no ssh")
	}
	dir := t.TempDir()
	id := filepath.Join(dir, "my key %d")
	s, err := WriteSSHConfig(SSHHost{Name: "builder:big", Host: "127.0.0.1", Port: 2200, User: "nix",
		Identity: id, KnownHosts: filepath.Join(dir, "known_hosts"), Jump: "ops@bastion:2022"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	file := strings.TrimPrefix(s.Env[0], "NIX_SSHOPTS=-F ")
	if len(s.Env) != 1 || file == s.Env[0] || s.Store != "ssh-ng://127.0.0.1" {
		t.Fatalf("session %+v", s)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	out, err := exec.Command("ssh", "-G", "-F", file, "127.0.0.1").Output()
	if err != nil {
		t.Fatal(err)
	}
	// -G shows paths before token expansion: "%%" is a literal '%' then.
	for _, want := range []string{"hostname 127.0.0.1", "port 2200", "user nix", "identityfile " + strings.ReplaceAll(id, "%", "%%"),
		"userknownhostsfile " + filepath.Join(dir, "known_hosts"), "stricthostkeychecking true", "batchmode yes",
		"proxyjump ops@bastion:2022"} {
		if !strings.Contains("\n"+string(out)+"\n", "\n"+want+"\n") {
			t.Errorf("ssh -G lacks %q:\n%s", want, out)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("config file left after Close: %v", err)
	}
}
