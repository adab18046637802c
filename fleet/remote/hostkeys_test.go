package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"nixdeck/fleet/remote/sshtest"
)

func ecdsaKey(t *testing.T) ssh.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// authorizedKey renders k as in authorized_keys, without the newline.
func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// hostCert signs host's key with ca for principal 127.0.0.1.
func hostCert(t *testing.T, host, ca ssh.Signer) ssh.Signer {
	t.Helper()
	cert := &ssh.Certificate{
		Key: host.PublicKey(), Serial: 1, CertType: ssh.HostCert, KeyId: "test-host",
		ValidPrincipals: []string{"127.0.0.1"}, ValidBefore: ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewCertSigner(cert, host)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHostKeyChecking(t *testing.T) {
	hostKey, otherKey, ca := newKey(t), newKey(t), newKey(t)
	tests := []struct {
		name string
		// known returns the known_hosts text for a server at addr.
		known    func(addr string) string
		signers  []ssh.Signer
		wantKind HostKeyKind // 0: the connection must succeed
		wantMsg  []string
	}{
		{
			name:     "unknown host",
			known:    func(string) string { return "" },
			wantKind: HostKeyUnknown,
			wantMsg:  []string{"web01", "host key unknown", ssh.FingerprintSHA256(hostKey.PublicKey()), "nixdeck trust web01"},
		},
		{
			name:    "plain entry",
			known:   func(addr string) string { return knownhosts.Line([]string{addr}, hostKey.PublicKey()) },
			wantMsg: nil,
		},
		{
			name: "hashed entry",
			known: func(addr string) string {
				return knownhosts.HashHostname(knownhosts.Normalize(addr)) + " " + authorizedKey(hostKey.PublicKey())
			},
		},
		{
			name:     "changed key",
			known:    func(addr string) string { return knownhosts.Line([]string{addr}, otherKey.PublicKey()) },
			wantKind: HostKeyChanged,
			wantMsg:  []string{"HOST KEY CHANGED", ssh.FingerprintSHA256(hostKey.PublicKey()), ssh.FingerprintSHA256(otherKey.PublicKey()), "known_hosts:1"},
		},
		{
			name: "revoked key",
			known: func(addr string) string {
				return knownhosts.Line([]string{addr}, hostKey.PublicKey()) + "\n@revoked * " + authorizedKey(hostKey.PublicKey())
			},
			wantKind: HostKeyRevoked,
			wantMsg:  []string{"REVOKED", "known_hosts:2"},
		},
		{
			name: "cert-authority",
			known: func(addr string) string {
				return "@cert-authority " + knownhosts.Normalize(addr) + " " + authorizedKey(ca.PublicKey())
			},
			signers: []ssh.Signer{hostCert(t, hostKey, ca)},
		},
		{
			// The usual set-up: sshd has HostKey and HostCertificate.
			name: "cert-authority, host has a plain key too",
			known: func(addr string) string {
				return "@cert-authority " + knownhosts.Normalize(addr) + " " + authorizedKey(ca.PublicKey())
			},
			signers: []ssh.Signer{hostKey, hostCert(t, hostKey, ca)},
		},
		{
			// OpenSSH's `*` covers every host, on any port; x/crypto's
			// only port 22.
			name:    "cert-authority for all hosts",
			known:   func(string) string { return "@cert-authority * " + authorizedKey(ca.PublicKey()) },
			signers: []ssh.Signer{hostKey, hostCert(t, hostKey, ca)},
		},
		{
			name: "cert-authority for other hosts",
			known: func(string) string {
				return "@cert-authority *,!127.0.0.1*,![127.0.0.1]:* " + authorizedKey(ca.PublicKey())
			},
			signers:  []ssh.Signer{hostCert(t, hostKey, ca)},
			wantKind: HostKeyUnknown,
		},
		{
			// The authority's key is not the host's: unknown, not changed.
			name: "plain key, only an authority known",
			known: func(addr string) string {
				return "@cert-authority " + knownhosts.Normalize(addr) + " " + authorizedKey(ca.PublicKey())
			},
			wantKind: HostKeyUnknown,
			wantMsg:  []string{"host key unknown", ssh.FingerprintSHA256(hostKey.PublicKey()), "@cert-authority", "nixdeck trust web01"},
		},
		{
			name: "certificate from an unknown authority",
			known: func(addr string) string {
				return "@cert-authority " + knownhosts.Normalize(addr) + " " + authorizedKey(otherKey.PublicKey())
			},
			signers:  []ssh.Signer{hostCert(t, hostKey, ca)},
			wantKind: HostKeyUnknown,
			wantMsg:  []string{ssh.FingerprintSHA256(hostKey.PublicKey())},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			signers := tt.signers
			if signers == nil {
				signers = []ssh.Signer{hostKey}
			}
			s := startServer(t, signers...)
			f := newFixture(t, s)
			if text := tt.known(s.Addr); text != "" {
				sshtest.AppendFile(t, f.knownHosts, text+"\n")
			}
			before, _ := os.ReadFile(f.knownHosts)
			c, err := Dial(context.Background(), f.target(s), testOptions())
			if tt.wantKind == 0 {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				c.Close()
				return
			}
			var he *HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("Dial error = %v, want *HostKeyError", err)
			}
			if he.Kind != tt.wantKind || he.Name != "web01" {
				t.Errorf("kind %v name %q, want %v web01", he.Kind, he.Name, tt.wantKind)
			}
			assertErrContains(t, err, tt.wantMsg...)
			if after, _ := os.ReadFile(f.knownHosts); string(after) != string(before) {
				t.Error("known_hosts was modified")
			}
			if s.Conns() != 0 {
				t.Error("the server saw an authenticated connection")
			}
		})
	}
}

// TestHostKeyAlgorithmOrder covers golang/go#29286: the server has ECDSA
// and Ed25519 keys, known_hosts only the Ed25519 one. x/crypto prefers
// ECDSA by default, which would look like a changed key.
func TestHostKeyAlgorithmOrder(t *testing.T) {
	ed, ec := newKey(t), ecdsaKey(t)
	s := startServer(t, ec, ed)
	f := newFixture(t, s)
	f.trust(t, s, ed.PublicKey())
	hk, err := loadHostKeys(f.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if algos := hk.algorithms(s.Addr); len(algos) == 0 || algos[0] != ssh.KeyAlgoED25519 {
		t.Errorf("algorithms = %v, want ssh-ed25519 first", algos)
	}
	if algos := hk.algorithms("127.0.0.1:1"); algos != nil {
		t.Errorf("algorithms for an unknown host = %v, want nil (library default)", algos)
	}
	// A host known through an authority: certificates first.
	sshtest.AppendFile(t, f.knownHosts, "@cert-authority [127.0.0.1]:2 "+authorizedKey(newKey(t).PublicKey())+"\n")
	if hk, err = loadHostKeys(f.knownHosts); err != nil {
		t.Fatal(err)
	}
	if algos := hk.algorithms("127.0.0.1:2"); len(algos) == 0 || algos[0] != ssh.CertAlgoED25519v01 {
		t.Errorf("algorithms for a host known by its authority = %v, want %s first", algos, ssh.CertAlgoED25519v01)
	}
	if algos := hk.algorithms(s.Addr); len(algos) == 0 || algos[0] != ssh.KeyAlgoED25519 {
		t.Errorf("algorithms = %v, want ssh-ed25519 first", algos)
	}
	if algos := hk.algorithms("127.0.0.1:1"); algos != nil {
		t.Errorf("algorithms for an unknown host = %v, want nil (library default)", algos)
	}
	c, err := Dial(context.Background(), f.target(s), testOptions())
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
}

// TestVerifyDefaultPort checks the port-22 form ("host key", no brackets),
// which no test server can listen on.
func TestVerifyDefaultPort(t *testing.T) {
	key, other := newKey(t).PublicKey(), newKey(t).PublicKey()
	file := filepath.Join(t.TempDir(), "known_hosts")
	text := knownhosts.Line([]string{"203.0.113.10:22"}, key) + "\n" + knownhosts.Line([]string{"db01.example.com:2222"}, key) + "\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	hk, err := loadHostKeys(file)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		key  ssh.PublicKey
		want HostKeyKind
	}{
		{"203.0.113.10:22", key, 0},
		{"203.0.113.10:22", other, HostKeyChanged},
		{"203.0.113.10:2222", key, HostKeyUnknown},
		{"db01.example.com:2222", key, 0},
		{"db01.example.com:22", key, HostKeyUnknown},
	}
	for _, tt := range tests {
		err := hk.verify("n", tt.addr, nil, tt.key)
		var he *HostKeyError
		switch {
		case tt.want == 0 && err != nil:
			t.Errorf("%s: %v", tt.addr, err)
		case tt.want != 0 && (!errors.As(err, &he) || he.Kind != tt.want):
			t.Errorf("%s: error %v, want kind %v", tt.addr, err, tt.want)
		}
	}
}

// TestAuthorityCovers: @cert-authority patterns match as in OpenSSH, against
// the name known_hosts writes ("host", or "[host]:port" off port 22).
func TestAuthorityCovers(t *testing.T) {
	// Each case is {patterns, addr}.
	cases := map[bool][][2]string{
		true: {{"*", "10.0.0.1:22"}, {"*", "10.0.0.1:2222"}, {"*.example.com", "web01.example.com:22"},
			{"[*.example.com]:2222", "web01.example.com:2222"}, {"web0?.example.com", "WEB01.example.com:22"},
			{"10.0.0.*", "10.0.0.1:22"}},
		false: {{"*.example.com", "web01.example.com:2222"}, {"*,!db*", "db01:22"}, {"10.0.0.*", "10.0.1.1:22"}},
	}
	for want, cs := range cases {
		for _, c := range cs {
			if got := (authority{patterns: strings.Split(c[0], ",")}).covers(c[1]); got != want {
				t.Errorf("%q covers %s = %v, want %v", c[0], c[1], got, want)
			}
		}
	}
}
