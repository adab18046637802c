package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"nixdeck/fleet/remote/sshtest"
)

func TestScanAndAppend(t *testing.T) {
	tests := []struct {
		name      string
		hash      bool
		preKnown  bool // known_hosts already has the target's key
		other     bool // known_hosts has another key for the target
		bastion   bool // reach the target through an unknown bastion
		wantKeys  int
		wantAdded int
		wantKind  HostKeyKind
		wantLine  string // a substring of the new known_hosts
	}{
		{name: "unknown host", wantKeys: 1, wantAdded: 1, wantLine: "[127.0.0.1]:"},
		{name: "hashed", hash: true, wantKeys: 1, wantAdded: 1, wantLine: "|1|"},
		{name: "already known", preKnown: true, wantKeys: 1, wantAdded: 0},
		{name: "changed key", other: true, wantKind: HostKeyChanged},
		{name: "through an unknown bastion", bastion: true, wantKeys: 2, wantAdded: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, bastion := startServer(t), startBastion(t)
			f := newFixture(t, bastion) // the target need not let us in to be scanned
			if tt.preKnown {
				f.trust(t, target)
			}
			if tt.other {
				f.trust(t, target, newKey(t).PublicKey())
			}
			before, _ := os.ReadFile(f.knownHosts)
			tg := f.target(target)
			if tt.bastion {
				tg.Jump = fmt.Sprintf("127.0.0.1:%d", bastion.Port)
			}
			keys, err := Scan(context.Background(), tg, testOptions())
			if tt.wantKind != 0 {
				var he *HostKeyError
				if !errors.As(err, &he) || he.Kind != tt.wantKind {
					t.Fatalf("Scan error = %v, want %v", err, tt.wantKind)
				}
				if after, _ := os.ReadFile(f.knownHosts); string(after) != string(before) {
					t.Error("known_hosts changed")
				}
				return
			}
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if len(keys) != tt.wantKeys {
				t.Fatalf("Scan returned %d keys, want %d: %+v", len(keys), tt.wantKeys, keys)
			}
			last := keys[len(keys)-1]
			if last.Name != "web01" || last.Known != tt.preKnown || last.Fingerprint != ssh.FingerprintSHA256(target.HostKeys[0]) {
				t.Errorf("target key %+v", last)
			}
			if tt.bastion && (keys[0].Name != fmt.Sprintf("jump 127.0.0.1:%d", bastion.Port) || keys[0].Fingerprint != ssh.FingerprintSHA256(bastion.HostKeys[0])) {
				t.Errorf("bastion key %+v", keys[0])
			}
			added, err := AppendKnownHosts(keys, tt.hash)
			if err != nil || added != tt.wantAdded {
				t.Fatalf("AppendKnownHosts = %d, %v; want %d", added, err, tt.wantAdded)
			}
			after, _ := os.ReadFile(f.knownHosts)
			if !strings.HasPrefix(string(after), string(before)) || !strings.Contains(string(after), tt.wantLine) {
				t.Errorf("known_hosts now:\n%s", after)
			}
			// Trusted now: a real connection succeeds.
			target.Authorize(f.key.PublicKey())
			c, err := Dial(context.Background(), tg, testOptions())
			mustRun(t, c, err)
			// Appending again adds nothing.
			if n, err := AppendKnownHosts(keys, tt.hash); n != 0 || err != nil {
				t.Errorf("second append = %d, %v", n, err)
			}
		})
	}
}

func TestAppendRefusesChangedKey(t *testing.T) {
	s := startServer(t)
	f := newFixture(t, s)
	keys, err := Scan(context.Background(), f.target(s), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Between scan and confirmation another key for the host appears.
	sshtest.AppendFile(t, f.knownHosts, "# comment without newline\n"+strings.TrimSuffix(s.KnownHosts(newKey(t).PublicKey()), "\n"))
	before, _ := os.ReadFile(f.knownHosts)
	_, err = AppendKnownHosts(keys, false)
	var he *HostKeyError
	if !errors.As(err, &he) || he.Kind != HostKeyChanged {
		t.Fatalf("AppendKnownHosts error = %v, want a changed-key refusal", err)
	}
	if after, _ := os.ReadFile(f.knownHosts); string(after) != string(before) {
		t.Error("known_hosts changed")
	}
}

func TestAppendLineAddsMissingNewline(t *testing.T) {
	file := t.TempDir() + "/sub/known_hosts"
	if err := appendLine(file, "a"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := appendLine(file, "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != "a\nb\n" {
		t.Errorf("file = %q", got)
	}
}

// TestScanPrefersEd25519: with nothing known (or only an authority that
// the host has no certificate from), the key recorded is the one OpenSSH
// would pick, not x/crypto's default preference (ECDSA, RSA first).
func TestScanPrefersEd25519(t *testing.T) {
	for _, ca := range []bool{false, true} {
		s := startServer(t, ecdsaKey(t), mustSigner(t, mustRSA(t)), newKey(t))
		f := newFixture(t)
		if ca {
			sshtest.AppendFile(t, f.knownHosts, "@cert-authority "+knownhosts.Normalize(s.Addr)+" "+authorizedKey(newKey(t).PublicKey())+"\n")
		}
		keys, err := Scan(context.Background(), f.target(s), testOptions())
		if err != nil || len(keys) != 1 || keys[0].Key.Type() != ssh.KeyAlgoED25519 {
			t.Fatalf("authority known %v: Scan = %+v, %v; want the Ed25519 key", ca, keys, err)
		}
	}
}

func mustSigner(t *testing.T, key any) ssh.Signer {
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScanCertificate: a host whose certificate an @cert-authority line
// vouches for is already trusted; with an unknown authority, the
// certificate's plain key is what trust would record.
func TestScanCertificate(t *testing.T) {
	hostKey, ca := newKey(t), newKey(t)
	for _, trusted := range []bool{true, false} {
		s := startServer(t, hostCert(t, hostKey, ca))
		f := newFixture(t)
		if trusted {
			sshtest.AppendFile(t, f.knownHosts, "@cert-authority "+knownhosts.Normalize(s.Addr)+" "+authorizedKey(ca.PublicKey())+"\n")
		}
		keys, err := Scan(context.Background(), f.target(s), testOptions())
		if err != nil || len(keys) != 1 {
			t.Fatalf("trusted CA %v: Scan = %+v, %v", trusted, keys, err)
		}
		k := keys[0]
		if k.Known != trusted || k.Fingerprint != ssh.FingerprintSHA256(hostKey.PublicKey()) || k.Type() != "ED25519" {
			t.Errorf("trusted CA %v: key %s %s known=%v, want %s known=%v", trusted, k.Type(), k.Fingerprint, k.Known, ssh.FingerprintSHA256(hostKey.PublicKey()), trusted)
		}
		if _, isCert := k.Key.(*ssh.Certificate); isCert {
			t.Errorf("trusted CA %v: Scan returned the certificate, want its plain key", trusted)
		}
	}
}
