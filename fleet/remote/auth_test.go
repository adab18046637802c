package remote

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"nixdeck/fleet/remote/sshtest"
)

// startAgent serves an in-process ssh-agent holding the fixture's key on
// a unix socket and points SSH_AUTH_SOCK at it.
func startAgent(t *testing.T, f *fixture) {
	t.Helper()
	startAgentKeys(t, f.priv)
}

// startAgentKeys serves an in-process ssh-agent holding keys, in order.
func startAgentKeys(t *testing.T, keys ...ed25519.PrivateKey) {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		if err := kr.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
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

// otherKeys returns n fresh keys that no server authorizes.
func otherKeys(t *testing.T, n int) []ed25519.PrivateKey {
	keys := make([]ed25519.PrivateKey, n)
	for i := range keys {
		keys[i], _ = sshtest.NewKey(t)
	}
	return keys
}

// TestIdentityOfferedFirst: sshd counts every key offered against
// MaxAuthTries (6), so the configured identity must come before the
// agent's other keys, and the agent's copy of it must not be offered
// twice. An encrypted identity file is offered through the agent's copy,
// found by its .pub file.
func TestIdentityOfferedFirst(t *testing.T) {
	f := newFixture(t)
	pub := f.key.PublicKey().Marshal()
	encrypted := filepath.Join(f.home, "id_encrypted")
	block, err := ssh.MarshalPrivateKeyWithPassphrase(f.priv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(encrypted, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshtest.AppendFile(t, encrypted+".pub", string(ssh.MarshalAuthorizedKey(f.key.PublicKey())))
	startAgentKeys(t, append(otherKeys(t, 7), f.priv)...)
	for _, id := range []string{f.identity, encrypted} {
		ks, err := loadKeys(endpoint{name: "web01", identities: []string{id}, explicitID: true})
		if err != nil {
			t.Fatal(err)
		}
		ks.close()
		if len(ks.signers) != 8 || string(ks.signers[0].PublicKey().Marshal()) != string(pub) {
			t.Errorf("%s: %d keys offered, the identity first: %v; want 8, true", filepath.Base(id), len(ks.signers), string(ks.signers[0].PublicKey().Marshal()) == string(pub))
		}
	}
}
