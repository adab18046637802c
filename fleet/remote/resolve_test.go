package remote

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kevinburke/ssh_config"
)

func TestResolve(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	const config = `
Host db*
  User deploy
  Port 2222
  IdentityFile ~/.ssh/db_key
  IdentityFile %d/.ssh/second_%r

Host web01
  HostName 10.0.0.11
  ProxyJump admin@bastion.example.com:2200

Host *
  User fallback
`
	cfg, err := ssh_config.Decode(strings.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	ssh := filepath.Join(home, ".ssh")
	defaults := []string{filepath.Join(ssh, "id_ed25519"), filepath.Join(ssh, "id_ecdsa"), filepath.Join(ssh, "id_rsa")}
	tests := []struct {
		name    string
		target  Target
		cfg     sshConfig
		want    endpoint
		wantErr string
	}{
		{
			name:   "defaults without ssh_config",
			target: Target{Name: "n", Host: "203.0.113.10"},
			want:   endpoint{name: "n", host: "203.0.113.10", port: 22, user: "root", identities: defaults, knownHosts: filepath.Join(ssh, "known_hosts"), sudo: "auto"},
		},
		{
			name:   "ssh_config fills what the target leaves empty",
			target: Target{Name: "db01", Host: "db01.example.com"},
			cfg:    sshConfig{cfg},
			want: endpoint{name: "db01", host: "db01.example.com", port: 2222, user: "deploy", explicitID: true,
				identities: []string{filepath.Join(ssh, "db_key"), filepath.Join(ssh, "second_deploy")},
				knownHosts: filepath.Join(ssh, "known_hosts"), sudo: "auto"},
		},
		{
			name:   "target fields win",
			target: Target{Name: "db01", Host: "db01.example.com", Port: 22, User: "root", Identity: "~/k", KnownHosts: "~/kh", Sudo: "never", Jump: "none"},
			cfg:    sshConfig{cfg},
			want: endpoint{name: "db01", host: "db01.example.com", port: 22, user: "root", explicitID: true,
				identities: []string{filepath.Join(home, "k")}, knownHosts: filepath.Join(home, "kh"), sudo: "never"},
		},
		{
			name:   "HostName and ProxyJump",
			target: Target{Name: "web01", Host: "web01", Sudo: "always"},
			cfg:    sshConfig{cfg},
			want: endpoint{name: "web01", host: "10.0.0.11", port: 22, user: "fallback", identities: defaults,
				knownHosts: filepath.Join(ssh, "known_hosts"), jumps: []string{"admin@bastion.example.com:2200"}, sudo: "always"},
		},
		{
			name:   "fleet jump overrides ProxyJump",
			target: Target{Name: "web01", Host: "web01", Jump: "a, b:2"},
			cfg:    sshConfig{cfg},
			want: endpoint{name: "web01", host: "10.0.0.11", port: 22, user: "fallback", identities: defaults,
				knownHosts: filepath.Join(ssh, "known_hosts"), jumps: []string{"a", "b:2"}, sudo: "auto"},
		},
		{name: "bad sudo mode", target: Target{Name: "n", Host: "h", Sudo: "maybe"}, wantErr: `n: sudo mode "maybe"`},
		{name: "no host", target: Target{Name: "n"}, wantErr: "n: no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(tt.target, tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolve:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestJumpTarget(t *testing.T) {
	node := Target{Name: "web01", KnownHosts: "/kh", Identity: "/id"}
	tests := []struct {
		spec    string
		want    Target
		wantErr bool
	}{
		{spec: "bastion", want: Target{Name: "jump bastion", Host: "bastion"}},
		{spec: "admin@10.0.0.1:2200", want: Target{Name: "jump admin@10.0.0.1:2200", Host: "10.0.0.1", User: "admin", Port: 2200}},
		{spec: "ssh://u@[2001:db8::1]:22", want: Target{Name: "jump u@[2001:db8::1]:22", Host: "2001:db8::1", User: "u", Port: 22}},
		{spec: "h:0", wantErr: true},
		{spec: "u@", wantErr: true},
	}
	for _, tt := range tests {
		got, err := jumpTarget(tt.spec, node)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%q: no error", tt.spec)
			}
			continue
		}
		tt.want.KnownHosts, tt.want.Identity, tt.want.Sudo, tt.want.Jump = "/kh", "/id", "never", "none"
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v; want %+v", tt.spec, got, err, tt.want)
		}
	}
}
