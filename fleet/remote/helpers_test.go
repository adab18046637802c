package remote

import (
	"context"
	"crypto/ed25519"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"nixdeck/fleet/remote/sshtest"
	"nixdeck/internal/proc"
)

// startServer starts an in-process SSH server with the given host keys (a
// fresh ed25519 one when none).
func startServer(t testing.TB, hostKeys ...ssh.Signer) *sshtest.Server {
	return sshtest.Start(t, sshtest.Config{HostKeys: hostKeys})
}

// startBastion starts a server that forwards direct-tcpip channels.
func startBastion(t testing.TB) *sshtest.Server {
	return sshtest.Start(t, sshtest.Config{Forward: true})
}

// newKey returns a fresh ed25519 signer.
func newKey(t testing.TB) ssh.Signer {
	_, s := sshtest.NewKey(t)
	return s
}

// fixture is a client-side setup: a temporary HOME, a known_hosts file and
// a client key the servers accept.
type fixture struct {
	home, knownHosts, identity string
	key                        ssh.Signer
	priv                       ed25519.PrivateKey
}

// newFixture makes HOME a temp dir (so no real ~/.ssh leaks in), unsets
// SSH_AUTH_SOCK, and writes a client key authorized on every server given.
func newFixture(t *testing.T, servers ...*sshtest.Server) *fixture {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	f := &fixture{home: home, knownHosts: filepath.Join(home, "known_hosts"), identity: filepath.Join(home, "id_test")}
	f.priv, f.key = sshtest.NewKey(t)
	sshtest.WriteKeyFile(t, f.identity, f.priv)
	for _, s := range servers {
		s.Authorize(f.key.PublicKey())
	}
	return f
}

// trust appends s's host keys (or only keys, when given) to known_hosts.
func (f *fixture) trust(t testing.TB, s *sshtest.Server, keys ...ssh.PublicKey) {
	sshtest.AppendFile(t, f.knownHosts, s.KnownHosts(keys...))
}

// target is a Target for s using the fixture's files.
func (f *fixture) target(s *sshtest.Server) Target {
	return Target{Name: "web01", Host: "127.0.0.1", Port: s.Port, Identity: f.identity, KnownHosts: f.knownHosts}
}

// testOptions keeps every wait short and ignores ~/.ssh/config.
func testOptions() Options {
	return Options{DialTimeout: 2 * time.Second, HandshakeTimeout: 3 * time.Second, KeepAliveInterval: time.Minute, SSHConfigPath: "none"}
}

// assertErrContains fails the test unless err mentions every want.
func assertErrContains(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want one mentioning %q", wants)
		return
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// mustRun fails unless the dial succeeded and `true` runs over it; the
// client is closed when the test ends.
func mustRun(t *testing.T, c *Client, dialErr error) {
	t.Helper()
	if dialErr != nil {
		t.Fatalf("Dial: %v", dialErr)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Run(context.Background(), proc.Cmd{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
}

// muteListener returns the port of a listener that accepts connections
// and never speaks SSH, so dials hang in the handshake, and a channel that
// receives a value for each connection accepted (past 16 unread, no more).
func muteListener(t *testing.T) (int, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, accepted
}

// lineSignal keeps what is written and closes ready once a whole line has
// arrived: a command's first line says it runs.
type lineSignal struct {
	mu    sync.Mutex
	b     strings.Builder
	once  sync.Once
	ready chan struct{}
}

func newLineSignal() *lineSignal { return &lineSignal{ready: make(chan struct{})} }

func (w *lineSignal) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), "\n") {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

// String returns what was written.
func (w *lineSignal) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.b.String() }
