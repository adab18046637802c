package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"nixdeck/fleet"
	"nixdeck/fleet/remote"
	"nixdeck/lab"
	"nixdeck/nix"
)

// What a hostile host can put in the text it reports: a screen clear, an
// OSC 52 clipboard write, a CR that overwrites the line, a C1 CSI and a
// bidi override.
const (
	evilVersion = "24.05\x1b[2J\x1b[H"
	evilHolder  = "deploy\x1b]52;c;cm0gLXJmIH4K\x07"
	evilSystem  = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-ok\rFAIL"
	evilErr     = "web9: read host state: exit status 1: \u009b2J\u202etoor\nsh: \x1b[31mred"
)

// assertInert fails when out carries a byte or character a terminal would
// act on: any C0 control but newline (and the space-like tab), DEL, a C1
// control or a bidi override.
func assertInert(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f || r == '\u202e' {
			t.Fatalf("%s prints %U raw:\n%q", what, r, out)
		}
	}
}

func hostileStatuses() []fleet.HostStatus {
	gen := nix.Generation{Number: 7, Created: time.Unix(1719820800, 0), Path: evilSystem, Profile: true, Running: true}
	st := &nix.HostState{
		Current: evilSystem, Profile: evilSystem, ProfileGeneration: 7, Version: evilVersion,
		SwitchLock:  nix.Lock{Known: true},
		NixdeckLock: nix.Lock{Known: true, Held: true, Holder: evilHolder},
		Generations: []nix.Generation{gen},
	}
	return []fleet.HostStatus{
		{Node: &fleet.Node{Name: "web1"}, State: st},
		{Node: &fleet.Node{Name: "web9"}, Err: errors.New(evilErr)},
	}
}

func TestStatusTableHostileText(t *testing.T) {
	var b bytes.Buffer
	if err := writeStatusTable(&b, hostileStatuses()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	assertInert(t, "status", out)
	for _, want := range []string{`24.05\x1b[2J\x1b[H`, `held by deploy\x1b]52;c;cm0gLXJmIH4K\x07`,
		`nixos-system-ok\x0dFAIL`, `\u009b2J\u202etoor | sh: \x1b[31mred`} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
	// Columns are measured on the escaped text: the header lines up with
	// the row.
	lines := strings.Split(out, "\n")
	if i, j := strings.Index(lines[0], "VERSION"), strings.Index(lines[1], `24.05\x1b`); i != j {
		t.Errorf("VERSION at %d, the version at %d:\n%s", i, j, out)
	}
}

func TestGenerationsHostileText(t *testing.T) {
	var b bytes.Buffer
	if err := writeGenerations(&b, hostileStatuses()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	assertInert(t, "generations", out)
	// The error keeps its lines; only the controls in them are escaped.
	if !strings.Contains(out, `nixos-system-ok\x0dFAIL`) ||
		!strings.Contains(out, "web9: error: web9: read host state: exit status 1: \\u009b2J\\u202etoor\nsh: \\x1b[31mred\n") {
		t.Errorf("generations:\n%s", out)
	}
}

// JSON carries the host's exact text: escaped by JSON, decoded unchanged.
func TestStatusJSONKeepsHostText(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSON(&b, statusJSON(hostileStatuses())); err != nil {
		t.Fatal(err)
	}
	assertInert(t, "status --json", b.String())
	if !strings.Contains(b.String(), `"version": "24.05\u001b[2J\u001b[H"`) {
		t.Errorf("JSON:\n%s", b.String())
	}
	var got []hostStatusJSON
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got[0].Version != evilVersion || got[0].NixdeckLock != "held by "+evilHolder || got[0].Current != evilSystem || got[1].Error != evilErr {
		t.Errorf("JSON changed the host's text: %q", b.String())
	}
}

func TestTrustHostileText(t *testing.T) {
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
	if err != nil {
		t.Fatal(err)
	}
	results := []fleet.ScanResult{
		{Node: &fleet.Node{Name: "web1", Host: "10.0.0.1"}, Keys: []remote.HostKey{
			{Name: "jump bastion\x1b[2J", Addr: "bastion:22", Key: pub, Fingerprint: ssh.FingerprintSHA256(pub)},
			{Name: "web1", Addr: "10.0.0.1:22", Key: pub, Fingerprint: ssh.FingerprintSHA256(pub), Known: true},
		}},
		{Node: &fleet.Node{Name: "web9", Host: "10.0.0.9"}, Err: errors.New(evilErr)},
	}
	var out, errOut bytes.Buffer
	if err := writeScan(&out, results); err != nil {
		t.Fatal(err)
	}
	if scanFailures(&errOut, results) == nil {
		t.Fatal("scanFailures() = nil with a failed node")
	}
	assertInert(t, "trust table", out.String())
	assertInert(t, "trust errors", errOut.String())
	if !strings.Contains(out.String(), `via jump bastion\x1b[2J  ED25519 SHA256:`) ||
		!strings.Contains(errOut.String(), `\u009b2J\u202etoor`+"\n"+`sh: \x1b[31mred`) {
		t.Errorf("table:\n%s\nerrors:\n%s", out.String(), errOut.String())
	}
}

func TestLabStatusHostileText(t *testing.T) {
	sts := []lab.HostStatus{{
		Host:    lab.Host{Name: "web01", Port: 2201},
		Current: "/nix/store/hjx82dcxr6swx9rhzwkqgx0y92j5vqp0-nixos-system-\x1b]0;pwned\x07",
		Release: "a\u202e",
	}}
	var b bytes.Buffer
	if err := writeLabStatus(&b, sts); err != nil {
		t.Fatal(err)
	}
	assertInert(t, "lab status", b.String())
	if !strings.Contains(b.String(), `hjx82dc…-nixos-system-\x1b]0;pwned\x07  release a\u202e`) {
		t.Errorf("lab status:\n%s", b.String())
	}
}

// The per-host diff prints the host's package names, versions and errors
// escaped; its JSON keeps them exact.
func TestDiffReportHostileText(t *testing.T) {
	const store = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-"
	cur := &nix.Closure{Root: store + "nixos-system-web1-1", Paths: map[string]int64{
		store + "nixos-system-web1-1": 1, store + "pkg-1.0\x1b[2J": 1}}
	new := &nix.Closure{Root: store + "nixos-system-web1-2", Paths: map[string]int64{
		store + "nixos-system-web1-2": 1, store + "pkg-1.1": 1, store + "evil\u009b31m-2": 1}}
	results := []hostRow{{HostDiff: fleet.NewHostDiff("web1", cur, new)}, {HostDiff: &fleet.HostDiff{Host: "web9", Error: evilErr}}}
	var out bytes.Buffer
	if err := (&diffCmd{}).report(&out, results); err == nil {
		t.Error("report() = nil with a failed host")
	}
	assertInert(t, "diff", out.String())
	for _, want := range []string{`1.0\x1b[2J -> 1.1`, `evil\u009b31m`, "error: web9: read host state: exit status 1: \\u009b2J\\u202etoor\nsh: \\x1b[31mred\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("diff lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	(&diffCmd{JSON: true}).report(&out, results)
	assertInert(t, "diff --json", out.String())
	var got []fleet.HostDiff
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got[0].Diff.Versions[1].Old[0] != "1.0\x1b[2J" || got[0].Diff.Added[0].Name != "evil\u009b31m" || got[1].Error != evilErr {
		t.Errorf("JSON changed the host's text:\n%q", out.String())
	}
}

// The error main prints last is made visible: here it quotes a path with
// an ESC in it.
func TestMainErrorHostileText(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved := os.Stderr
	os.Stderr = f
	code := run([]string{"lab", "status", "--dir", filepath.Join(t.TempDir(), "no\x1b[2Jlab")})
	os.Stderr = saved
	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	assertInert(t, "main's error", string(out))
	if code != 1 || !strings.Contains(string(out), `no\x1b[2Jlab`) {
		t.Errorf("exit %d, stderr %q", code, out)
	}
}
