package remote

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"nixdeck/internal/proc"
)

func TestKeepaliveDetectsDeadPeer(t *testing.T) {
	s := startServer(t)
	f := newFixture(t, s)
	f.trust(t, s)
	o := testOptions()
	// Ten misses (half a second without a reply): a loaded machine can hold
	// the server's answer back for well over the three misses once used.
	o.KeepAliveInterval, o.KeepAliveMaxMissed = 50*time.Millisecond, 10
	c, err := Dial(context.Background(), f.target(s), o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Alive: keepalives are answered (with a refusal) and nothing closes,
	// though more of them came than the client lets go unanswered.
	for range o.KeepAliveMaxMissed + 2 {
		<-s.Requests()
	}
	if err := c.Err(); err != nil {
		t.Fatalf("connection died while the peer answered: %v", err)
	}
	done := make(chan error, 1)
	started := newLineSignal()
	go func() {
		done <- c.Run(context.Background(), proc.Cmd{Argv: []string{"sh", "-c", "echo started; exec sleep 20"}, Stdout: started})
	}()
	<-started.ready
	s.Freeze()
	select {
	case err := <-done:
		if !errors.Is(err, proc.ErrConnectionLost) {
			t.Fatalf("Run error = %v, want proc.ErrConnectionLost", err)
		}
		// "10": the connection was given up after KeepAliveMaxMissed misses, not the first.
		assertErrContains(t, err, "web01", "keepalive", "no reply to 10 keepalives")
		// The host is named by the error's type, not only its text.
		var lost *LostError
		if !errors.As(err, &lost) || lost.Name != "web01" || !strings.HasPrefix(lost.What, "sh -c") {
			t.Errorf("Run error = %#v, want a *LostError naming web01 and the command", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a running command did not notice the dead peer")
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed")
	}
	if !errors.Is(c.Err(), proc.ErrConnectionLost) {
		t.Errorf("Err() = %v", c.Err())
	}
	if err := c.Run(context.Background(), proc.Cmd{Argv: []string{"true"}}); !errors.Is(err, proc.ErrConnectionLost) {
		t.Errorf("Run on a dead client = %v, want proc.ErrConnectionLost", err)
	}
}

func TestConnectionClosedUnderCommand(t *testing.T) {
	_, _, c := dialTest(t)
	done := make(chan error, 1)
	started := newLineSignal()
	go func() {
		done <- c.Run(context.Background(), proc.Cmd{Argv: []string{"sh", "-c", "echo started; exec sleep 20"}, Stdout: started})
	}()
	<-started.ready
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, proc.ErrConnectionLost) {
			t.Fatalf("Run error = %v, want proc.ErrConnectionLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}

func TestDialFailures(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	mutePort, _ := muteListener(t)
	f := newFixture(t)
	o := testOptions()
	o.HandshakeTimeout = 300 * time.Millisecond
	tests := []struct {
		name    string
		port    int
		ctx     func() (context.Context, context.CancelFunc)
		wantErr []string
		within  time.Duration
	}{
		{name: "refused", port: closedPort, wantErr: []string{"web01 (127.0.0.1:" + strconv.Itoa(closedPort) + "): dial: connection refused"}, within: time.Second},
		{name: "handshake timeout", port: mutePort, wantErr: []string{"web01 (127.0.0.1:", "handshake", "no SSH handshake within 300ms"}, within: 2 * time.Second},
		{
			name: "cancelled during handshake", port: mutePort,
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 100*time.Millisecond)
			},
			wantErr: []string{"web01", "deadline exceeded"}, within: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.Background(), func() {}
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			tg := Target{Name: "web01", Host: "127.0.0.1", Port: tt.port, Identity: f.identity, KnownHosts: f.knownHosts}
			start := time.Now()
			c, err := Dial(ctx, tg, o)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if d := time.Since(start); d > tt.within {
				t.Errorf("took %v, want under %v", d, tt.within)
			}
			assertErrContains(t, err, tt.wantErr...)
		})
	}
}
