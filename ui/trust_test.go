package ui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/fleet/remote/sshtest"
)

// keyRefused is the error of a host whose key known_hosts refused.
func keyRefused(t *testing.T, host, addr, knownHosts string, kind remote.HostKeyKind) (error, ssh.PublicKey) {
	_, signer := sshtest.NewKey(t)
	pub := signer.PublicKey()
	ke := &remote.HostKeyError{Kind: kind, Name: host, Addr: addr, Key: pub, Fingerprint: ssh.FingerprintSHA256(pub), KnownHosts: knownHosts}
	return &fleet.HostError{Host: host, Err: ke}, pub
}

// An unknown host key is a prompt with its fingerprint; n leaves it
// untrusted (the file untouched), y appends it to the fleet's
// known_hosts as `nixdeck trust` does and reads the host again.
func TestTrustUnknownHostKey(t *testing.T) {
	known := filepath.Join(t.TempDir(), "known_hosts")
	var pub ssh.PublicKey
	d := start(t, testFleet(), upToDate, func(e *fakeEngine, c *Config) {
		e.errs["web01"], pub = keyRefused(t, "web01", "[10.0.0.1]:2201", known, remote.HostKeyUnknown)
	})
	fp := ssh.FingerprintSHA256(pub)
	d.resize(160, 48)
	d.shows("Unknown host key", "web01 at [10.0.0.1]:2201 offered a host key", "ED25519 "+fp, known)
	if l := d.line(" web01 "); !strings.Contains(l, "unreachable: unknown host key SHA256:") {
		t.Errorf("web01's row: %q", l)
	}
	d.press("n")
	d.hides("Unknown host key")
	d.shows("web01: host key not trusted")
	if _, err := os.Stat(known); !os.IsNotExist(err) {
		t.Fatalf("n wrote %s: %v", known, err)
	}

	d.press("R")
	d.shows("Unknown host key")
	delete(d.eng.errs, "web01") // once trusted, the host answers
	d.press("y")
	b, err := os.ReadFile(known)
	if err != nil || !strings.Contains(string(b), "[10.0.0.1]:2201 "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))) {
		t.Fatalf("known_hosts after y: %q, %v", b, err)
	}
	if c := d.eng.called(); c[len(c)-1] != "ReadStates web01" {
		t.Errorf("after trusting: %q, want web01 read again", c[len(c)-1])
	}
	if l := d.line(" web01 "); !strings.Contains(l, " up ") {
		t.Errorf("web01 once trusted: %q", l)
	}
}

// A changed (or revoked) key is an error pane, never a prompt: y does
// not trust it, nothing is written; esc dismisses it.
func TestChangedHostKeyIsNoPrompt(t *testing.T) {
	known := filepath.Join(t.TempDir(), "known_hosts")
	for _, kind := range []remote.HostKeyKind{remote.HostKeyChanged, remote.HostKeyRevoked} {
		d := start(t, testFleet(), upToDate, func(e *fakeEngine, c *Config) {
			e.errs["db01"], _ = keyRefused(t, "db01", "[10.0.0.2]:2202", known, kind)
		})
		d.resize(160, 48)
		d.shows("Host key refused: "+kind.String(), "refusing to connect")
		d.hides("Unknown host key", "y: append")
		d.press("y")
		d.shows("Host key refused")
		d.press("esc")
		d.hides("Host key refused")
		if _, err := os.Stat(known); !os.IsNotExist(err) {
			t.Fatalf("%s key: %s written", kind, known)
		}
	}
}

// Several unknown keys are asked about one after the other.
func TestTrustPromptsQueue(t *testing.T) {
	dir := t.TempDir()
	var trusted []string
	d := start(t, testFleet(), upToDate, func(e *fakeEngine, c *Config) {
		e.errs["web01"], _ = keyRefused(t, "web01", "a:1", filepath.Join(dir, "k"), remote.HostKeyUnknown)
		e.errs["web02"], _ = keyRefused(t, "web02", "b:1", filepath.Join(dir, "k"), remote.HostKeyUnknown)
		c.Trust = func(keys []remote.HostKey) error {
			for _, k := range keys {
				trusted = append(trusted, k.Name)
				delete(e.errs, k.Name)
			}
			return nil
		}
	})
	d.shows("web01 at a:1")
	d.press("y")
	d.shows("web02 at b:1")
	d.press("n")
	d.hides("Unknown host key")
	if !slices.Equal(trusted, []string{"web01"}) {
		t.Errorf("trusted %v, want web01 only", trusted)
	}
}

// A key met while another dialog is open waits for it to close: the
// confirmation is answered first, then the key is asked about.
func TestTrustWaitsForTheOpenDialog(t *testing.T) {
	d := start(t, testFleet(), withDiffs)
	d.press("s")
	d.shows("Switch 1 host?")
	d.eng.errs["web02"], _ = keyRefused(t, "web02", "b:1", filepath.Join(t.TempDir(), "k"), remote.HostKeyUnknown)
	d.run(d.m.refresh([]*hostRow{d.m.byName["web02"]}))
	d.settle()
	d.shows("Switch 1 host?")
	d.hides("Unknown host key")
	d.press("y")
	d.shows("Unknown host key", "web02 at b:1")
	if len(d.eng.plans) != 1 {
		t.Error("the confirmation's y did not start the rollout")
	}
}
