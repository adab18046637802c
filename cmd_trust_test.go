package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"golang.org/x/crypto/ssh"

	"nixdeck/fleet/remote"
	"nixdeck/fleet/remote/sshtest"
)

// trustFleet writes a fleet file with one node per server (web01, web02,
// ...) and a known_hosts file next to it; it returns the fleet file's path
// and the known_hosts path.
func trustFleet(t *testing.T, servers ...*sshtest.Server) (string, string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir) // no real ~/.ssh/config or known_hosts
	t.Setenv("SSH_AUTH_SOCK", "")
	var b strings.Builder
	b.WriteString("flake: ./\ndefaults:\n  known_hosts: ./known_hosts\nnodes:\n")
	for i, s := range servers {
		fmt.Fprintf(&b, "  web%02d:\n    host: 127.0.0.1\n    port: %d\n    tags: [t%d]\n", i+1, s.Port, i+1)
	}
	file := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, filepath.Join(dir, "known_hosts")
}

// runTrust runs the trust command with answer on stdin.
func runTrust(t *testing.T, file string, c trustCmd, answer string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o := remote.Options{DialTimeout: 2 * time.Second, HandshakeTimeout: 3 * time.Second, SSHConfigPath: "none"}
	err := c.run(context.Background(), &globals{File: file}, o, strings.NewReader(answer), &out, &errOut)
	return out.String(), errOut.String(), err
}

// exitStatus is the process exit status run would give err.
func exitStatus(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

func TestTrust(t *testing.T) {
	tests := []struct {
		name      string
		cmd       trustCmd
		answer    string
		preTrust  bool // web01 already trusted
		changed   bool // known_hosts holds another key for web01
		wantExit  int
		wantLines int // known_hosts lines afterwards
		wantOut   []string
		notOut    []string
	}{
		{name: "yes flag", cmd: trustCmd{Yes: true}, wantLines: 2, wantOut: []string{"web01", "web02", "new", "Added 2 host keys"}},
		{name: "confirmed", answer: "y\n", wantLines: 2, wantOut: []string{"Append 2 host keys", "[y/N]", "Added 2 host keys"}},
		{name: "declined", answer: "n\n", wantExit: 1, wantLines: 0, wantOut: []string{"Append 2 host keys"}},
		{name: "no answer", answer: "", wantExit: 1, wantLines: 0},
		{name: "selector", cmd: trustCmd{On: "@t2", Yes: true}, wantLines: 1, wantOut: []string{"web02", "Added 1 host key"}},
		{name: "already trusted", cmd: trustCmd{Yes: true}, preTrust: true, wantLines: 2, wantOut: []string{"already trusted", "Added 1 host key"}},
		{name: "changed key", cmd: trustCmd{Yes: true}, changed: true, wantExit: 1, wantLines: 2, wantOut: []string{"failed", "Added 1 host key"}},
		{name: "hashed", cmd: trustCmd{Yes: true, Hash: true}, wantLines: 2, wantOut: []string{"Added 2 host keys"}},
		{name: "only a changed key", cmd: trustCmd{On: "web01", Yes: true}, changed: true, wantExit: 1, wantLines: 1, wantOut: []string{"failed (below)"}, notOut: []string{"already trusted"}},
		{name: "bad selector", cmd: trustCmd{On: "nosuch", Yes: true}, wantExit: 2},
		{name: "node argument", cmd: trustCmd{Nodes: []string{"web02"}, Yes: true}, wantLines: 1, wantOut: []string{"web02", "Added 1 host key"}},
		{name: "node arguments and --on", cmd: trustCmd{Nodes: []string{"web01", "web02"}, On: "!web01", Yes: true}, wantLines: 1, wantOut: []string{"web02", "Added 1 host key"}},
		{name: "bad node argument", cmd: trustCmd{Nodes: []string{"web09"}, Yes: true}, wantExit: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := sshtest.Start(t, sshtest.Config{}), sshtest.Start(t, sshtest.Config{})
			file, known := trustFleet(t, a, b)
			if tt.preTrust {
				sshtest.AppendFile(t, known, a.KnownHosts())
			}
			if tt.changed {
				_, other := sshtest.NewKey(t)
				sshtest.AppendFile(t, known, a.KnownHosts(other.PublicKey()))
			}
			out, errOut, err := runTrust(t, file, tt.cmd, tt.answer)
			if got := exitStatus(err); got != tt.wantExit {
				t.Errorf("exit status %d (%v), want %d", got, err, tt.wantExit)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notOut {
				if strings.Contains(out, w) {
					t.Errorf("output says %q:\n%s", w, out)
				}
			}
			if tt.changed && !strings.Contains(errOut, "HOST KEY CHANGED") {
				t.Errorf("stderr lacks the changed-key refusal:\n%s", errOut)
			}
			data, _ := os.ReadFile(known)
			if n := strings.Count(string(data), "\n"); n != tt.wantLines {
				t.Errorf("known_hosts has %d lines, want %d:\n%s", n, tt.wantLines, data)
			}
			// Every scanned key is shown (web01's is refused when changed).
			if tt.wantExit != 2 && tt.cmd.On == "" && len(tt.cmd.Nodes) == 0 {
				shown := []*sshtest.Server{b}
				if !tt.changed {
					shown = append(shown, a)
				}
				for _, s := range shown {
					if fp := ssh.FingerprintSHA256(s.HostKeys[0]); !strings.Contains(out, fp) {
						t.Errorf("output lacks fingerprint %s:\n%s", fp, out)
					}
				}
			}
		})
	}
}

// TestTrustHintParses runs the command line that the refusal of an unknown
// host key tells the operator to run through the real parser.
func TestTrustHintParses(t *testing.T) {
	_, key := sshtest.NewKey(t)
	he := &remote.HostKeyError{Kind: remote.HostKeyUnknown, Name: "web01", Addr: "10.0.0.1:22", Key: key.PublicKey(), Fingerprint: "SHA256:x", KnownHosts: "/kh"}
	_, hint, ok := strings.Cut(he.Error(), "run `")
	if !ok {
		t.Fatalf("no command in %q", he)
	}
	hint, _, _ = strings.Cut(hint, "`")
	args := strings.Fields(hint)
	if args[0] != "nixdeck" {
		t.Fatalf("hint %q does not start with nixdeck", hint)
	}
	var c cli
	parser, err := kong.New(&c, kong.Name("nixdeck"), kong.Exit(func(int) { t.Fatal("parser exited") }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := parser.Parse(append(args[1:], "--on", "@t2"))
	if err != nil {
		t.Fatalf("the hint %q does not parse: %v", hint, err)
	}
	if ctx.Command() != "trust <NODE>" || c.Trust.selector() != "web01,@t2" {
		t.Errorf("parsed %q as %q with selector %q", hint, ctx.Command(), c.Trust.selector())
	}
}
