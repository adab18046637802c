package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Client is one authenticated SSH connection to a host. Commands run in
// their own sessions multiplexed over it; keepalives watch it, and Done
// is closed when it dies.
type Client struct {
	ep    endpoint
	opts  Options
	conn  *ssh.Client
	owned []*Client     // bastions dialled for this client alone, closed with it
	slots chan struct{} // one per open session, at most maxSessions

	done      chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	cause     error // why the connection died; nil after a plain Close
}

// Dial connects to t (through its jump hosts, if any), checks the host key
// strictly and authenticates. Every step is bounded by o's timeouts and by
// ctx. Errors name the node and the address: *Error, or *HostKeyError for a
// refused host key.
func Dial(ctx context.Context, t Target, o Options) (*Client, error) {
	d := &dialer{opts: o.withDefaults()}
	return d.dial(ctx, t)
}

// Name returns the node name this client was dialled for.
func (c *Client) Name() string { return c.ep.name }

// Addr returns the host:port connected to, after ~/.ssh/config resolution.
func (c *Client) Addr() string { return c.ep.addr() }

// User returns the login user.
func (c *Client) User() string { return c.ep.user }

// Done is closed when the connection is closed or dies.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection died (wrapping ErrConnectionLost), or nil
// while it is alive or after a plain Close.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Close closes the connection and the jump hosts dialled for it. Commands
// still running fail with ErrConnectionLost.
func (c *Client) Close() error {
	return c.shutdown(nil)
}

// shutdown closes the connection once, remembering cause.
func (c *Client) shutdown(cause error) error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.cause = cause
		c.mu.Unlock()
		err = c.conn.Close()
		for _, j := range c.owned {
			j.Close()
		}
		close(c.done)
	})
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// dialer dials clients. jump, when set, provides shared bastion
// connections (the Pool's); otherwise each client dials and owns its own.
type dialer struct {
	opts Options
	jump func(ctx context.Context, t Target) (*Client, error)
	// accept, when set, is asked about a refused host key; returning true
	// accepts it (nixdeck trust scanning through a not-yet-trusted bastion).
	accept func(*HostKeyError) bool
}

// dial resolves t, opens the transport and runs the SSH handshake.
func (d *dialer) dial(ctx context.Context, t Target) (*Client, error) {
	ep, hk, nc, owned, err := d.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	closeOwned := func() {
		for _, j := range owned {
			j.Close()
		}
	}
	keys, err := loadKeys(ep)
	if err != nil {
		nc.Close()
		closeOwned()
		return nil, err
	}
	defer keys.close()
	var keyErr error
	cfg := &ssh.ClientConfig{
		User:              ep.user,
		Auth:              keys.methods(),
		HostKeyAlgorithms: hk.algorithms(ep.addr()),
		HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			err := hk.verify(ep.name, ep.addr(), remote, key)
			var he *HostKeyError
			if errors.As(err, &he) && d.accept != nil && d.accept(he) {
				err = nil
			}
			keyErr = err
			if err == nil {
				keyErr = errKeyAccepted
			}
			return err
		},
	}
	sc, chans, reqs, err := handshake(ctx, nc, ep, cfg, d.opts.HandshakeTimeout)
	if err != nil {
		closeOwned()
		switch {
		case keyErr != nil && keyErr != errKeyAccepted:
			return nil, keyErr
		case keyErr == errKeyAccepted && !isTimeout(err):
			return nil, ep.fail("auth", err)
		}
		return nil, ep.fail("handshake", err)
	}
	c := &Client{ep: ep, opts: d.opts, conn: ssh.NewClient(sc, chans, reqs), owned: owned, slots: make(chan struct{}, maxSessions), done: make(chan struct{})}
	go c.watch()
	go c.keepalive()
	return c, nil
}

// errKeyAccepted records that the host key passed, so a later handshake
// failure is an authentication failure.
var errKeyAccepted = errors.New("host key accepted")

// connect resolves t and opens the byte stream to it: TCP, or a
// direct-tcpip channel through the last jump host.
func (d *dialer) connect(ctx context.Context, t Target) (endpoint, *hostKeys, net.Conn, []*Client, error) {
	cfg, err := loadSSHConfig(d.opts.SSHConfigPath)
	if err != nil {
		return endpoint{}, nil, nil, nil, &Error{Name: t.Name, Addr: t.Host, Op: "resolve", Err: err}
	}
	ep, err := resolve(t, cfg)
	if err != nil {
		return ep, nil, nil, nil, err
	}
	hk, err := loadHostKeys(ep.knownHosts)
	if err != nil {
		return ep, nil, nil, nil, ep.fail("host keys", err)
	}
	if len(ep.jumps) == 0 {
		dctx, cancel := context.WithTimeout(ctx, d.opts.DialTimeout)
		defer cancel()
		var nd net.Dialer
		nc, err := nd.DialContext(dctx, "tcp", ep.addr())
		if err != nil {
			return ep, nil, nil, nil, ep.fail("dial", trimOpError(err))
		}
		return ep, hk, withQuickAck(nc), nil, nil
	}
	last := len(ep.jumps) - 1
	jt, err := jumpTarget(ep.jumps[last], t)
	if err != nil {
		return ep, nil, nil, nil, err
	}
	if last > 0 {
		jt.Jump = strings.Join(ep.jumps[:last], ",")
	}
	var bastion *Client
	var owned []*Client
	if d.jump != nil {
		bastion, err = d.jump(ctx, jt)
	} else {
		bastion, err = d.dial(ctx, jt)
		owned = []*Client{bastion}
	}
	if err != nil {
		return ep, nil, nil, nil, viaJumpError(ep, err)
	}
	// The channel gets its own DialTimeout, counted from now: the bastion's
	// dial and login above have their own bounds.
	dctx, cancel := context.WithTimeout(ctx, d.opts.DialTimeout)
	defer cancel()
	nc, err := bastion.conn.DialContext(dctx, "tcp", ep.addr())
	if err != nil {
		for _, j := range owned {
			j.Close()
		}
		return ep, nil, nil, nil, ep.fail("dial via "+bastion.ep.addr(), err)
	}
	return ep, hk, nc, owned, nil
}

// viaJumpError attributes a bastion's failure to the node behind it: a
// refused bastion key keeps its type (with the node to trust), anything
// else is prefixed with the node.
func viaJumpError(ep endpoint, err error) error {
	var he *HostKeyError
	if errors.As(err, &he) {
		cp := *he // the original may be shared by Pool callers
		cp.Node = ep.name
		return &cp
	}
	return fmt.Errorf("%s: %w", ep.label(), err)
}

// handshake runs the SSH handshake on nc, bounded by timeout and ctx.
// x/crypto's ClientConfig.Timeout covers only net.Dial, so the deadline is
// enforced here: on the socket, and by closing it for transports (jump
// channels) that have no deadlines.
func handshake(ctx context.Context, nc net.Conn, ep endpoint, cfg *ssh.ClientConfig, timeout time.Duration) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	deadline := time.Now().Add(timeout)
	_ = nc.SetDeadline(deadline)
	timer := time.AfterFunc(timeout, func() { nc.Close() })
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(nc, ep.addr(), cfg)
	timedOut, cancelled := !timer.Stop(), !stop()
	if err == nil && (timedOut || cancelled) {
		sc.Close()
		err = errors.New("connection closed")
	}
	switch {
	case err == nil:
		_ = nc.SetDeadline(time.Time{})
		return sc, chans, reqs, nil
	case cancelled && ctx.Err() != nil:
		return nil, nil, nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
	case timedOut || isTimeout(err):
		return nil, nil, nil, fmt.Errorf("no SSH handshake within %v: %w", timeout, errTimeout)
	}
	return nil, nil, nil, err
}

// errTimeout marks handshakes that ran out of time.
var errTimeout = errors.New("timed out")

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// trimOpError drops the *net.OpError prefix ("dial tcp 1.2.3.4:22: ") so
// that messages read "web01 (1.2.3.4:22): dial: connection refused".
func trimOpError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	return err
}
