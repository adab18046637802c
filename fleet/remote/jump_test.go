package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nixdeck/fleet/remote/sshtest"
)

func TestJumpHost(t *testing.T) {
	b1, b2, target := startBastion(t), startBastion(t), startServer(t)
	tests := []struct {
		name    string
		jump    string
		trusted []*sshtest.Server
		wantErr []string
		used    []*sshtest.Server // bastions that must have forwarded
	}{
		{name: "one bastion", jump: fmt.Sprintf("jumper@127.0.0.1:%d", b1.Port), trusted: []*sshtest.Server{b1, target}, used: []*sshtest.Server{b1}},
		{name: "two hops", jump: fmt.Sprintf("127.0.0.1:%d,jumper@127.0.0.1:%d", b1.Port, b2.Port), trusted: []*sshtest.Server{b1, b2, target}, used: []*sshtest.Server{b1, b2}},
		{
			name: "unknown bastion", jump: fmt.Sprintf("127.0.0.1:%d", b1.Port), trusted: []*sshtest.Server{target},
			wantErr: []string{"jump 127.0.0.1:", "host key unknown", "nixdeck trust web01`"},
		},
		{
			name: "unknown target behind a known bastion", jump: fmt.Sprintf("127.0.0.1:%d", b1.Port), trusted: []*sshtest.Server{b1},
			wantErr: []string{"web01 (127.0.0.1:", "host key unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, b1, b2, target)
			for _, s := range tt.trusted {
				f.trust(t, s)
			}
			before := map[*sshtest.Server]int32{}
			for _, s := range tt.used {
				before[s] = s.Forwards()
			}
			tg := f.target(target)
			tg.Jump = tt.jump
			c, err := Dial(context.Background(), tg, testOptions())
			if len(tt.wantErr) > 0 {
				var he *HostKeyError
				if !errors.As(err, &he) {
					t.Fatalf("Dial error = %v, want *HostKeyError", err)
				}
				assertErrContains(t, err, tt.wantErr...)
				return
			}
			mustRun(t, c, err)
			for _, s := range tt.used {
				if s.Forwards() == before[s] {
					t.Errorf("bastion %s forwarded nothing", s.Addr)
				}
			}
			if !b1.SawUser("jumper") && !b2.SawUser("jumper") {
				t.Error("the jump spec's user was not used")
			}
		})
	}
}

// TestJumpSlowBastion checks that the channel to the node gets its own
// DialTimeout: a bastion whose login takes longer than DialTimeout (but
// less than HandshakeTimeout) must not leave the channel open no time.
func TestJumpSlowBastion(t *testing.T) {
	bastion := sshtest.Start(t, sshtest.Config{Forward: true, AuthDelay: 600 * time.Millisecond})
	target := startServer(t)
	f := newFixture(t, bastion, target)
	f.trust(t, bastion)
	f.trust(t, target)
	o := testOptions()
	o.DialTimeout = 300 * time.Millisecond
	tg := f.target(target)
	tg.Jump = bastion.Addr
	c, err := Dial(context.Background(), tg, o)
	mustRun(t, c, err)
	if bastion.Forwards() == 0 {
		t.Error("the bastion forwarded nothing")
	}
}

// writeSSHConfig writes an ssh_config file and returns its path.
func writeSSHConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSSHConfigDial(t *testing.T) {
	bastion, target := startBastion(t), startServer(t)
	f := newFixture(t, bastion, target)
	f.trust(t, bastion)
	f.trust(t, target)
	cfg := writeSSHConfig(t, f.home, fmt.Sprintf(`
Host web
  HostName 127.0.0.1
  Port %d
  User deploy
  IdentityFile ~/id_test

Host bastion
  HostName 127.0.0.1
  Port %d
  User cfgjumper
  IdentityFile ~/id_test

Host behind
  HostName 127.0.0.1
  Port %d
  IdentityFile ~/id_test
  ProxyJump bastion
`, target.Port, bastion.Port, target.Port))
	o := testOptions()
	o.SSHConfigPath = cfg
	tests := []struct {
		name     string
		target   Target
		wantUser string
		viaJump  bool
	}{
		{name: "alias", target: Target{Name: "web01", Host: "web", KnownHosts: f.knownHosts}, wantUser: "deploy"},
		{name: "fleet file wins", target: Target{Name: "web01", Host: "web", User: "root", KnownHosts: f.knownHosts}, wantUser: "root"},
		{name: "ProxyJump", target: Target{Name: "web01", Host: "behind", KnownHosts: f.knownHosts}, wantUser: "root", viaJump: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := bastion.Forwards()
			c, err := Dial(context.Background(), tt.target, o)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.User() != tt.wantUser || !target.SawUser(tt.wantUser) {
				t.Errorf("user %q (server saw it: %v), want %q", c.User(), target.SawUser(tt.wantUser), tt.wantUser)
			}
			if via := bastion.Forwards() > fw; via != tt.viaJump {
				t.Errorf("through the bastion = %v, want %v", via, tt.viaJump)
			}
			if tt.viaJump && !bastion.SawUser("cfgjumper") {
				t.Error("the bastion's ssh_config User was not used")
			}
		})
	}
}
