// Package sshtest is an in-process SSH server for tests of code that runs
// commands over SSH (the transport as a proc.Runner, nixdeck trust, the rollout
// engine). It authenticates public keys, runs "exec" requests with `sh -c`
// on this machine so exit codes, signals and output are real, honours
// "signal" requests, answers keepalives, optionally forwards direct-tcpip
// channels (a jump host), and can play dead.
package sshtest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Config configures a Server.
type Config struct {
	// HostKeys are the server's host keys (certificate signers allowed);
	// empty means one fresh ed25519 key.
	HostKeys []ssh.Signer
	// Env is added to the environment of every command ("PATH=..." to put
	// fakes such as sudo first).
	Env []string
	// Forward allows direct-tcpip channels, making the server a jump host.
	Forward bool
	// IgnoreSignals refuses "signal" requests and leaves commands running
	// when their channel closes, as OpenSSH does for root logins (no
	// privilege separation). Leftovers are killed when the test ends.
	IgnoreSignals bool
	// MaxSessions refuses sessions beyond this many open at once on one
	// connection, as sshd's MaxSessions does (0: no limit).
	MaxSessions int
	// AuthDelay makes each public key check take this long, like a server
	// whose login is slow (a loaded host, a remote user database).
	AuthDelay time.Duration
	// OpenDelay and ExecDelay hold back the answer to a session open and
	// to an exec request, like a host too loaded to start a process.
	OpenDelay, ExecDelay time.Duration
}

// Server is a running in-process SSH server, stopped when the test ends.
type Server struct {
	// Addr is "127.0.0.1:PORT"; Port the port alone.
	Addr string
	Port int
	// HostKeys are the public host keys (certificates included).
	HostKeys []ssh.PublicKey

	cfg        Config
	sshCfg     *ssh.ServerConfig
	authorized sync.Map // string(key.Marshal()) -> true
	users      sync.Map // login users seen
	conns      atomic.Int32
	forwards   atomic.Int32
	signals    chan string
	requests   chan string
	frozen     atomic.Bool
	stopped    chan struct{} // closed when the test ends: delays end early
	mu         sync.Mutex
	handshakes sync.Cond // signalled when pending drops
	pending    int       // connections accepted whose handshake goes on
	raw        []*freezeConn
	pgids      []int // process groups of commands started
}

// Start listens on 127.0.0.1 and serves until the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	if len(cfg.HostKeys) == 0 {
		_, k := NewKey(t)
		cfg.HostKeys = []ssh.Signer{k}
	}
	s := &Server{cfg: cfg, signals: make(chan string, 16), requests: make(chan string, 64), stopped: make(chan struct{})}
	s.handshakes.L = &s.mu
	s.sshCfg = &ssh.ServerConfig{
		PublicKeyCallback: func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.pause(cfg.AuthDelay)
			if _, ok := s.authorized.Load(string(key.Marshal())); ok {
				s.users.Store(md.User(), true)
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	for _, hs := range cfg.HostKeys {
		s.sshCfg.AddHostKey(hs)
		s.HostKeys = append(s.HostKeys, hs.PublicKey())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(s.stopped)
		ln.Close()
		s.mu.Lock()
		for _, c := range s.raw {
			c.Close()
		}
		for _, g := range s.pgids {
			syscall.Kill(-g, syscall.SIGKILL)
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
			s.pending++ // before the server speaks: the client waits for it
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

// Authorize lets key log in, as any user.
func (s *Server) Authorize(key ssh.PublicKey) { s.authorized.Store(string(key.Marshal()), true) }

// SawUser reports whether user logged in.
func (s *Server) SawUser(user string) bool { _, ok := s.users.Load(user); return ok }

// Forwards is the number of direct-tcpip channels forwarded so far.
func (s *Server) Forwards() int32 { return s.forwards.Load() }

// Signals delivers the names of "signal" requests received ("TERM").
func (s *Server) Signals() <-chan string { return s.signals }

// Requests delivers the types of global requests received, such as the
// client's keepalives ("keepalive@openssh.com"); past 64 unread ones,
// newer ones are dropped.
func (s *Server) Requests() <-chan string { return s.requests }

// Freeze makes the server stop reading from its connections, like a peer
// whose network vanished without a FIN: keepalives go unanswered.
func (s *Server) Freeze() { s.frozen.Store(true) }

// Conns returns the number of authenticated connections once every
// connection accepted so far has finished its handshake (a client's dial
// returns a little before the server counts it, or sees it fail).
func (s *Server) Conns() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pending > 0 {
		s.handshakes.Wait()
	}
	return s.conns.Load()
}

// pause waits d, or less when the test ends first.
func (s *Server) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.stopped:
	}
}

// KnownHosts renders the server's host keys (or only keys, when given) as
// known_hosts lines for its address.
func (s *Server) KnownHosts(keys ...ssh.PublicKey) string {
	if len(keys) == 0 {
		keys = s.HostKeys
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintln(&b, knownhosts.Line([]string{s.Addr}, k))
	}
	return b.String()
}

func (s *Server) serve(nc net.Conn) {
	defer nc.Close()
	sc, chans, reqs, err := ssh.NewServerConn(nc, s.sshCfg)
	if err == nil {
		s.conns.Add(1)
	}
	s.mu.Lock()
	s.pending--
	s.handshakes.Broadcast()
	s.mu.Unlock()
	if err != nil {
		return
	}
	defer sc.Close()
	go func() {
		for r := range reqs {
			select {
			case s.requests <- r.Type:
			default:
			}
			// Keepalives get a refusal, as OpenSSH answers unknown requests.
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	var slots chan struct{} // one per open session, as sshd's MaxSessions
	if s.cfg.MaxSessions > 0 {
		slots = make(chan struct{}, s.cfg.MaxSessions)
	}
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			if slots != nil && !s.takeSlot(slots) {
				nch.Reject(ssh.ResourceShortage, "too many sessions")
				continue
			}
			var once sync.Once
			free := func() {
				if slots != nil {
					once.Do(func() { <-slots })
				}
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer free(); s.session(nch, free) }()
		case "direct-tcpip":
			if !s.cfg.Forward {
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

// slotGrace is how long a session waits for a free slot before it is
// refused. A session frees its slot before the client can see it close,
// so a client that opens a new one after the close never waits; the grace
// covers one the client stopped waiting for (a cancelled command), which
// the server frees a moment later, as sshd does.
const slotGrace = 200 * time.Millisecond

// takeSlot reports whether a session slot came free within slotGrace.
func (s *Server) takeSlot(slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(slotGrace)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-s.stopped:
		return false
	}
}

// freezeConn stops delivering reads while frozen, until closed.
type freezeConn struct {
	net.Conn
	frozen    *atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
}

// Read blocks once the server is frozen, until the connection is closed
// (a freeze lasts until the end of the test).
func (f *freezeConn) Read(p []byte) (int, error) {
	if f.frozen.Load() {
		<-f.closed
		return 0, net.ErrClosed
	}
	return f.Conn.Read(p)
}

// Close also releases a Read blocked by a freeze.
func (f *freezeConn) Close() error {
	f.closeOnce.Do(func() { close(f.closed) })
	return f.Conn.Close()
}
