package remote

import (
	"net"
	"syscall"
	"testing"
)

// TestQuickAckAfterRead: a read through the wrapper leaves the socket in
// quick-ACK mode even when it was in delayed-ACK (pingpong) mode before,
// which is what the stall of quickack.go needs. (The kernel may also
// leave pingpong mode on its own when its delayed-ACK timer fires, so on
// a very slow run this passes without the wrapper's help; it fails
// whenever the wrapper does nothing and the read is prompt.)
func TestQuickAckAfterRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	srv, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	defer srv.Close()

	wrapped := withQuickAck(nc)
	if _, ok := wrapped.(*quickAckTCP); !ok {
		t.Fatalf("withQuickAck(%T) = %T, want *quickAckTCP", nc, wrapped)
	}
	setQuickAck(t, nc, 0) // pingpong: ACKs delayed
	if got := quickAckOpt(t, nc); got != 0 {
		t.Fatalf("TCP_QUICKACK after setting 0 = %d", got)
	}
	if _, err := srv.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := wrapped.Read(buf); n != 1 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if got := quickAckOpt(t, nc); got != 1 {
		t.Errorf("TCP_QUICKACK after a read through the wrapper = %d, want 1", got)
	}
}

// TestQuickAckOnlyTCP: connections that are not sockets (jump-host
// channels, pipes) pass unchanged.
func TestQuickAckOnlyTCP(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := withQuickAck(a); got != a {
		t.Errorf("withQuickAck(pipe) = %T, want the pipe itself", got)
	}
}

func setQuickAck(t *testing.T, nc net.Conn, v int) {
	t.Helper()
	raw, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, v)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
}

func quickAckOpt(t *testing.T, nc net.Conn) int {
	t.Helper()
	raw, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) {
		v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v
}
