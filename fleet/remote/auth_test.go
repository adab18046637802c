package remote

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh/agent"

	"nixdeck/fleet/remote/sshtest"
)

// startAgent serves an in-process ssh-agent holding the fixture's key on
// a unix socket and points SSH_AUTH_SOCK at it.
func startAgent(t *testing.T, f *fixture) {
	t.Helper()
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: f.priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); agent.ServeAgent(kr, c) }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, f *fixture, tg *Target)
		wantErr []string // empty: Dial and a command must succeed
	}{
		{
			name:  "identity file",
			setup: func(t *testing.T, f *fixture, tg *Target) {},
		},
		{
			name: "agent only",
			setup: func(t *testing.T, f *fixture, tg *Target) {
				startAgent(t, f)
				tg.Identity = ""
			},
		},
		{
			name: "agent key plus a wrong identity file",
			setup: func(t *testing.T, f *fixture, tg *Target) {
				startAgent(t, f)
				other, _ := sshtest.NewKey(t)
				tg.Identity = filepath.Join(f.home, "other")
				sshtest.WriteKeyFile(t, tg.Identity, other)
			},
		},
		{
			name: "default ~/.ssh/id_ed25519",
			setup: func(t *testing.T, f *fixture, tg *Target) {
				sshtest.WriteKeyFile(t, filepath.Join(f.home, ".ssh", "id_ed25519"), f.priv)
				tg.Identity = ""
			},
		},
		{
			name: "key not authorized",
			setup: func(t *testing.T, f *fixture, tg *Target) {
				other, _ := sshtest.NewKey(t)
				tg.Identity = filepath.Join(f.home, "other")
				sshtest.WriteKeyFile(t, tg.Identity, other)
			},
			wantErr: []string{"web01 (127.0.0.1:", "auth", "unable to authenticate"},
		},
		{
			name: "no keys at all",
			setup: func(t *testing.T, f *fixture, tg *Target) {
				tg.Identity = ""
			},
			wantErr: []string{"web01", "no SSH keys", "SSH_AUTH_SOCK is not set"},
		},
		{
			name: "missing identity file",
			setup: func(t *testing.T, f *fixture, tg *Target) {
				tg.Identity = filepath.Join(f.home, "nope")
			},
			wantErr: []string{"web01", "identity file", "nope"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			f := newFixture(t, s)
			f.trust(t, s)
			tg := f.target(s)
			tt.setup(t, f, &tg)
			c, err := Dial(context.Background(), tg, testOptions())
			if len(tt.wantErr) > 0 {
				if err == nil {
					c.Close()
					t.Fatal("Dial succeeded")
				}
				assertErrContains(t, err, tt.wantErr...)
				return
			}
			mustRun(t, c, err)
		})
	}
}
