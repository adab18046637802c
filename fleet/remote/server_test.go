package remote

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// testServer is an in-process SSH server: public-key auth against a set of
// authorized keys, "exec" run with `sh -c` on this machine (so exit codes,
// signals and output are real), "signal" requests, keepalive replies and,
// when allowed, direct-tcpip forwarding for jump-host tests.
type testServer struct {
	t          testing.TB
	addr       string
	port       int
	cfg        *ssh.ServerConfig
	hostKeys   []ssh.PublicKey
	authorized sync.Map // string(key.Marshal()) -> true
	env        []string // extra environment for commands
	forward    bool     // allow direct-tcpip

	conns    atomic.Int32 // SSH handshakes completed
	forwards atomic.Int32 // direct-tcpip channels opened
	users    sync.Map     // login users seen
	signals  chan string  // signal requests received
	frozen   atomic.Bool  // stop reading from every connection
	mu       sync.Mutex
	raw      []*freezeConn
}

// newKey returns a fresh ed25519 signer.
func newKey(t testing.TB) ssh.Signer {
	_, s := newKeyPair(t)
	return s
}

// newKeyPair returns a fresh ed25519 private key and its signer.
func newKeyPair(t testing.TB) (ed25519.PrivateKey, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, s
}

// startServer listens on 127.0.0.1 with the given host signers (a fresh
// ed25519 one when none) and serves until the test ends.
func startServer(t testing.TB, hostSigners ...ssh.Signer) *testServer {
	t.Helper()
	if len(hostSigners) == 0 {
		hostSigners = []ssh.Signer{newKey(t)}
	}
	s := &testServer{t: t, signals: make(chan string, 16)}
	s.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if _, ok := s.authorized.Load(string(key.Marshal())); ok {
				s.users.Store(md.User(), true)
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	for _, hs := range hostSigners {
		s.cfg.AddHostKey(hs)
		s.hostKeys = append(s.hostKeys, hs.PublicKey())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.raw {
			c.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			fc := &freezeConn{Conn: nc, frozen: &s.frozen, closed: make(chan struct{})}
			s.mu.Lock()
			s.raw = append(s.raw, fc)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(fc)
			}()
		}
	}()
	return s
}

// connCount returns the number of completed handshakes once it has been
// stable for a moment: the server side finishes its handshake a little
// after the client does.
func (s *testServer) connCount() int32 {
	n := s.conns.Load()
	for range 50 {
		time.Sleep(10 * time.Millisecond)
		m := s.conns.Load()
		if m == n && n > 0 {
			return n
		}
		n = m
	}
	return n
}

// authorize lets key log in.
func (s *testServer) authorize(key ssh.PublicKey) { s.authorized.Store(string(key.Marshal()), true) }

// sawUser reports whether user logged in.
func (s *testServer) sawUser(user string) bool { _, ok := s.users.Load(user); return ok }

// freeze makes the server stop reading from its connections, like a peer
// whose network vanished without a FIN.
func (s *testServer) freeze() { s.frozen.Store(true) }

func (s *testServer) serve(nc net.Conn) {
	defer nc.Close()
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	s.conns.Add(1)
	go func() {
		for r := range reqs {
			// Keepalives get a refusal, like OpenSSH answers unknown requests.
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			wg.Add(1)
			go func() { defer wg.Done(); s.session(nch) }()
		case "direct-tcpip":
			if !s.forward {
				nch.Reject(ssh.Prohibited, "forwarding disabled")
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); s.directTCPIP(nch) }()
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

// session serves one "exec" request.
func (s *testServer) session(nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	var cmd *exec.Cmd
	exited := make(chan struct{})
	for r := range reqs {
		switch r.Type {
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(r.Payload, &p) != nil || cmd != nil {
				r.Reply(false, nil)
				continue
			}
			cmd = exec.Command("sh", "-c", p.Command)
			cmd.Env = append(os.Environ(), s.env...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
			// Its own process group, so that signals reach the shell's
			// children too and no orphan keeps the output pipes open.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.WaitDelay = time.Second
			if err := cmd.Start(); err != nil {
				r.Reply(false, nil)
				return
			}
			r.Reply(true, nil)
			go func() {
				err := cmd.Wait()
				sendExit(ch, cmd.ProcessState, err)
				ch.Close()
				close(exited)
			}()
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(r.Payload, &p) == nil && cmd != nil {
				s.signals <- p.Signal
				if sig, ok := signalByName[p.Signal]; ok {
					syscall.Kill(-cmd.Process.Pid, sig)
				}
			}
			if r.WantReply {
				r.Reply(true, nil)
			}
		default:
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}
	if cmd != nil {
		// The client closed the channel: stop the command, as sshd does.
		select {
		case <-exited:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
}

var signalByName = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "KILL": syscall.SIGKILL, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP}

// sendExit reports how the command ended, as exit-status or exit-signal.
func sendExit(ch ssh.Channel, ps *os.ProcessState, err error) {
	if ps == nil {
		return
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		name := strings.TrimPrefix(strings.ToUpper(unixSignalName(ws.Signal())), "SIG")
		ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
			Signal     string
			CoreDumped bool
			Error      string
			Lang       string
		}{Signal: name}))
		return
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(ps.ExitCode()))
	ch.SendRequest("exit-status", false, b[:])
}

// unixSignalName names the few signals the tests use.
func unixSignalName(sig syscall.Signal) string {
	for name, s := range signalByName {
		if s == sig {
			return name
		}
	}
	return strconv.Itoa(int(sig))
}

// directTCPIP forwards a channel to the requested address.
func (s *testServer) directTCPIP(nch ssh.NewChannel) {
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad payload")
		return
	}
	tc, err := net.Dial("tcp", net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port))))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		tc.Close()
		return
	}
	s.forwards.Add(1)
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { io.Copy(ch, tc); ch.CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(tc, ch); tc.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
	ch.Close()
	tc.Close()
}

// freezeConn stops delivering reads while frozen, until closed.
type freezeConn struct {
	net.Conn
	frozen    *atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
}

func (f *freezeConn) Read(p []byte) (int, error) {
	for f.frozen.Load() {
		select {
		case <-f.closed:
			return 0, net.ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
	}
	return f.Conn.Read(p)
}

func (f *freezeConn) Close() error {
	f.closeOnce.Do(func() { close(f.closed) })
	return f.Conn.Close()
}

// fixture is a client-side setup: a temporary HOME, a known_hosts file and
// a client key the server accepts.
type fixture struct {
	home, knownHosts, identity string
	key                        ssh.Signer
	priv                       ed25519.PrivateKey
}

// newFixture makes HOME a temp dir (so no real ~/.ssh leaks in), unsets
// SSH_AUTH_SOCK, and writes a client key authorized on every server given.
func newFixture(t *testing.T, servers ...*testServer) *fixture {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	f := &fixture{home: home, knownHosts: filepath.Join(home, "known_hosts"), identity: filepath.Join(home, "id_test")}
	f.priv, f.key = newKeyPair(t)
	writeKeyFile(t, f.identity, f.priv)
	for _, s := range servers {
		s.authorize(f.key.PublicKey())
	}
	return f
}

// writeKeyFile stores priv in OpenSSH format, mode 0600.
func writeKeyFile(t testing.TB, path string, priv ed25519.PrivateKey) {
	t.Helper()
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}

// trust appends s's host keys (or only keys, when given) to the known_hosts file.
func (f *fixture) trust(t testing.TB, s *testServer, keys ...ssh.PublicKey) {
	t.Helper()
	if len(keys) == 0 {
		keys = s.hostKeys
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintln(&b, knownhosts.Line([]string{s.addr}, k))
	}
	appendFile(t, f.knownHosts, b.String())
}

func appendFile(t testing.TB, path, text string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// target is a Target for s using the fixture's files.
func (f *fixture) target(s *testServer) Target {
	return Target{Name: "web01", Host: "127.0.0.1", Port: s.port, Identity: f.identity, KnownHosts: f.knownHosts}
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
	if err := c.Run(context.Background(), Cmd{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
}
