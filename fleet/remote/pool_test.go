package remote

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"nixdeck/fleet/remote/sshtest"
	"nixdeck/internal/proc"
)

func TestPool(t *testing.T) {
	s := startServer(t)
	f := newFixture(t, s)
	f.trust(t, s)
	tg := f.target(s)
	p := NewPool(testOptions())
	defer p.Close()
	ctx := context.Background()

	// Concurrent Gets share one dial.
	var wg sync.WaitGroup
	got := make([]*Client, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Get(ctx, tg)
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
	}
	wg.Wait()
	for _, c := range got[1:] {
		if c != got[0] {
			t.Fatal("Get returned different clients for one target")
		}
	}
	if n := s.Conns(); n != 1 {
		t.Errorf("%d connections after 8 Gets, want 1", n)
	}

	fresh, err := p.Fresh(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if fresh == got[0] || s.Conns() != 2 {
		t.Errorf("Fresh did not make a new connection (server saw %d)", s.Conns())
	}
	if c, _ := p.Get(ctx, tg); c != got[0] {
		t.Error("Fresh replaced a live pooled connection")
	}

	// A dead pooled connection is replaced on the next Get.
	got[0].Close()
	again, err := p.Get(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	if again == got[0] {
		t.Error("Get returned a closed client")
	}
	if err := again.Run(ctx, proc.Cmd{Argv: []string{"true"}}); err != nil {
		t.Error(err)
	}

	p.Close()
	for _, c := range []*Client{again, fresh} {
		select {
		case <-c.Done():
		default:
			t.Error("Pool.Close left a connection open")
		}
	}
	if _, err := p.Get(ctx, tg); err == nil {
		t.Error("Get after Close succeeded")
	}
}

func TestPoolSharesBastion(t *testing.T) {
	bastion, a, b := startBastion(t), startServer(t), startServer(t)
	f := newFixture(t, bastion, a, b)
	for _, s := range []*sshtest.Server{bastion, a, b} {
		f.trust(t, s)
	}
	p := NewPool(testOptions())
	defer p.Close()
	for i, s := range []*sshtest.Server{a, b} {
		tg := f.target(s)
		tg.Name = fmt.Sprintf("web%02d", i+1)
		tg.Jump = fmt.Sprintf("127.0.0.1:%d", bastion.Port)
		c, err := p.Get(context.Background(), tg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Run(context.Background(), proc.Cmd{Argv: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := bastion.Conns(); n != 1 {
		t.Errorf("bastion saw %d connections, want 1 shared", n)
	}
	if n := bastion.Forwards(); n != 2 {
		t.Errorf("bastion forwarded %d channels, want 2", n)
	}
}

func TestPoolDialFailures(t *testing.T) {
	f := newFixture(t)
	o := testOptions()
	o.HandshakeTimeout = time.Hour // only the callers' contexts end these dials
	p := NewPool(o)
	defer p.Close()
	port, accepted := muteListener(t)
	tg := Target{Name: "web01", Host: "127.0.0.1", Port: port, Identity: f.identity, KnownHosts: f.knownHosts}

	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	first := make(chan error, 1)
	go func() { _, err := p.Get(ctx1, tg); first <- err }()
	<-accepted // the first Get's dial is in its handshake
	// A second caller waiting on that dial gives up with its own context.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx, tg); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting Get = %v, want its own deadline", err)
	}
	select {
	case err := <-first:
		t.Fatalf("the first dial ended (%v) although nothing ends it", err)
	default:
	}
	cancel1()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first Get = %v, want its cancellation", err)
	}
	// The failure is not cached: the next Get dials again.
	ctx3, cancel3 := context.WithCancel(context.Background())
	third := make(chan error, 1)
	go func() { _, err := p.Get(ctx3, tg); third <- err }()
	<-accepted
	cancel3()
	if err := <-third; err == nil {
		t.Error("Get on a mute host succeeded")
	}
}
