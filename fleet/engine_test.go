package fleet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"nixdeck/fleet/remote"
	"nixdeck/fleet/remote/sshtest"
	"nixdeck/nix"
)

// sshNode starts an in-process SSH server and returns it with a node
// that logs in to it with a key of its own and trusts its host key.
func sshNode(t *testing.T, name string) (*sshtest.Server, *Node) {
	s := sshtest.Start(t, sshtest.Config{})
	dir := t.TempDir()
	t.Setenv("SSH_AUTH_SOCK", "")
	priv, key := sshtest.NewKey(t)
	s.Authorize(key.PublicKey())
	id, known := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	sshtest.WriteKeyFile(t, id, priv)
	sshtest.AppendFile(t, known, s.KnownHosts())
	return s, &Node{Name: name, Host: "127.0.0.1", Settings: Settings{Port: s.Port, Identity: id, KnownHosts: known}}
}

// waitGoroutines waits until no more goroutines run than before, and
// fails with their stacks when some never return.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			var b bytes.Buffer
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, b.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// chattyBlockingHost logs more lines than the stream holds, so that it
// waits for the reader, then runs a command that lasts until cancelled.
func chattyBlockingHost(ctx context.Context, h *HostRun) error {
	for i := range 2 * streamBuffer {
		h.Log("test")(fmt.Sprint("line ", i))
	}
	return h.Runner.Run(ctx, nix.Cmd{Argv: []string{"sleep", "600"}})
}

// A reader that cancels and stops reading strands nothing: every host's
// goroutine and the operation's own return, without Close.
func TestAbandonedStreamLeaksNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	block := runnerFunc(func(ctx context.Context, c nix.Cmd) error { <-ctx.Done(); return ctx.Err() })
	ns := nodes("a", "b", "c", "d")
	conn := fakeConnector{runners: map[string]nix.Runner{"a": block, "b": block, "c": block, "d": block}}
	e := Open(&Fleet{Deploy: Deploy{Parallel: 2}}, Options{Connector: conn})
	ctx, cancel := context.WithCancel(context.Background())
	s := e.RunHosts(ctx, "test", ns, chattyBlockingHost)
	if ev, ok := s.Next(ctx); !ok {
		t.Fatal("no first event")
	} else if _, ok := ev.(OpStarted); !ok {
		t.Errorf("first event %T, want OpStarted", ev)
	}
	cancel()
	waitGoroutines(t, before)
	e.Close()
}

// Close interrupts what runs, and once it has returned the connections
// are closed: nothing of the operation or of the SSH client is left,
// though its stream was never read after the first event.
func TestCloseLeaksNoConnection(t *testing.T) {
	_, n := sshNode(t, "web01")
	before := runtime.NumGoroutine()

	e := Open(&Fleet{Deploy: Deploy{Parallel: 1}}, Options{SSH: remote.Options{SSHConfigPath: "none"}})
	running := make(chan struct{})
	st := e.RunHosts(context.Background(), "test", []*Node{n}, func(ctx context.Context, h *HostRun) error {
		close(running)
		return chattyBlockingHost(ctx, h)
	})
	st.Next(context.Background())
	<-running
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return: an operation waits for its reader")
	}
	waitGoroutines(t, before)
}

// Close interrupts the operations still running; their hosts end as
// interrupted, not failed.
func TestCloseInterrupts(t *testing.T) {
	block := runnerFunc(func(ctx context.Context, c nix.Cmd) error { <-ctx.Done(); return ctx.Err() })
	e := Open(&Fleet{Deploy: Deploy{Parallel: 1}}, Options{Connector: fakeConnector{runners: map[string]nix.Runner{"web1": block}}})
	running := make(chan struct{})
	s := e.RunHosts(context.Background(), "test", nodes("web1", "web2"), func(ctx context.Context, h *HostRun) error {
		close(running) // one host at a time: web2 never starts
		return h.Runner.Run(ctx, nix.Cmd{Argv: []string{"sleep", "600"}})
	})
	go func() { <-running; e.Close() }()
	sts := CollectStates(nodes("web1", "web2"), s.All())
	for _, st := range sts {
		if !errors.Is(st.Err, ErrInterrupted) {
			t.Errorf("%s: %v, want interrupted", st.Node.Name, st.Err)
		}
	}
}

// HostRun.Copy runs its local side through the Engine's local runner;
// both sides' commands are reported, and a failure names the host by
// type, even a host called `copy`.
func TestHostRunCopyLocalRunner(t *testing.T) {
	const sys = "/nix/store/lwgy6jr0kqfbnjh3lb8ss0yf4cvksxv3-nixos-system-copy-24.05"
	const dep = "/nix/store/q5j3gzfn3gq6ivmvqyb4x0b4mmcps9ml-glibc-2.39"
	var failLocal bool
	local := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		if strings.Join(c.Argv[:2], " ") == "nix-store --dump-db" {
			return nil // asked for while the host is checked; nothing is sent
		}
		if strings.Join(c.Argv, " ") != "nix-store --query --requisites "+sys {
			return fmt.Errorf("unexpected local %v", c.Argv)
		}
		if failLocal {
			return &nix.ExitError{Argv: c.Argv, Code: 1, Stderr: "error: path '" + sys + "' is not valid"}
		}
		_, err := io.WriteString(c.Stdout, dep+"\n"+sys+"\n")
		return err
	})
	host := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		if strings.Join(c.Argv, " ") != "nix-store --serve --write" {
			return fmt.Errorf("unexpected remote %v", c.Argv)
		}
		return serveHasAll(c.Stdin, c.Stdout)
	})
	for _, fail := range []bool{false, true} {
		failLocal = fail
		e := engine(t, fakeConnector{runners: map[string]nix.Runner{"copy": host}}, 1)
		e.local = local
		ns := nodes("copy")
		var res nix.CopyResult
		s := e.RunHosts(context.Background(), "copy", ns, func(ctx context.Context, h *HostRun) error {
			var err error
			res, err = h.Copy(ctx, sys, false)
			return err
		})
		var cmds []string
		var done error
		var progress int
		for ev := range s.All() {
			switch ev := ev.(type) {
			case CommandEvent:
				cmds = append(cmds, fmt.Sprintf("%s local=%v exit=%d %s", ev.Host(), ev.Local, ev.Exit, ev.Argv[0]))
			case CopyEvent:
				progress++
			case DoneEvent:
				done = ev.Err
			}
		}
		var he *HostError
		if fail {
			// The host's session, started while the closure was asked
			// for, is stopped (exit -1) without being asked anything.
			slices.Sort(cmds)
			if want := "copy local=false exit=-1 nix-store|copy local=true exit=1 nix-store"; strings.Join(cmds, "|") != want {
				t.Errorf("failing copy ran %q, want %q", cmds, want)
			}
			if !errors.As(done, &he) || he.Host != "copy" || he.Step != "copy" || !strings.HasPrefix(done.Error(), "copy: copy: "+sys+": ") {
				t.Errorf("failing copy ended with %v, want a *HostError for host copy, step copy", done)
			}
			continue
		}
		slices.Sort(cmds) // the records are read while the host is checked
		if want := "copy local=false exit=0 nix-store|copy local=true exit=0 nix-store|copy local=true exit=0 nix-store"; strings.Join(cmds, "|") != want {
			t.Errorf("copy ran %q, want %q", cmds, want)
		}
		if done != nil || res.Closure != 2 || len(res.Missing) != 0 || progress != 1 {
			t.Errorf("copy: %v, %+v, %d progress events", done, res, progress)
		}
	}
}

// serveHasAll is a host's `nix-store --serve --write` that holds every
// path it is asked about: it answers the greeting and one query of valid
// paths (Nix's serve protocol: little-endian 64-bit numbers, strings
// padded to 8 bytes), then waits for the end of its input.
func serveHasAll(in io.Reader, out io.Writer) error {
	num := func() (uint64, error) {
		var b [8]byte
		_, err := io.ReadFull(in, b[:])
		return binary.LittleEndian.Uint64(b[:]), err
	}
	put := func(n uint64) { _ = binary.Write(out, binary.LittleEndian, n) }
	if _, err := num(); err != nil { // magic
		return err
	}
	if _, err := num(); err != nil { // version
		return err
	}
	put(0x5452eecb)
	put(2<<8 | 5)
	for range 3 { // command, lock, substitute
		if _, err := num(); err != nil {
			return err
		}
	}
	count, err := num()
	if err != nil || count > 100 {
		return fmt.Errorf("query: %d paths, %v", count, err)
	}
	// The whole query is read before answering, as Nix does: the pipes
	// pass one write at a time and the client is still writing it.
	var answer bytes.Buffer
	_ = binary.Write(&answer, binary.LittleEndian, count)
	for range count {
		n, err := num()
		if err != nil || n > 1000 {
			return fmt.Errorf("query: path of %d bytes, %v", n, err)
		}
		p := make([]byte, (n+7)&^7)
		if _, err := io.ReadFull(in, p); err != nil {
			return err
		}
		_ = binary.Write(&answer, binary.LittleEndian, n)
		answer.Write(p)
	}
	if _, err := out.Write(answer.Bytes()); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, in)
	return err
}

// A failed command is reported with its exit status and privilege; one
// that never reported a status with -1.
func TestCommandEventOnFailure(t *testing.T) {
	bad := runnerFunc(func(ctx context.Context, c nix.Cmd) error {
		if c.Privileged {
			return &HostError{Host: "web1", Err: &nix.ExitError{Argv: c.Argv, Code: 3}}
		}
		return fmt.Errorf("web1: %w", nix.ErrConnectionLost)
	})
	s := engine(t, fakeConnector{runners: map[string]nix.Runner{"web1": bad}}, 1).RunHosts(context.Background(), "test", nodes("web1"),
		func(ctx context.Context, h *HostRun) error {
			h.Runner.Run(ctx, nix.Cmd{Argv: []string{"nix-env", "--rollback"}, Privileged: true})
			return h.Runner.Run(ctx, nix.Cmd{Argv: []string{"true"}})
		})
	var got []string
	for ev := range s.All() {
		switch ev := ev.(type) {
		case CommandStarted:
			got = append(got, fmt.Sprintf("start %s privileged=%v", ev.Argv[0], ev.Privileged))
		case CommandEvent:
			got = append(got, fmt.Sprintf("end %s privileged=%v exit=%d err=%v took=%v", ev.Argv[0], ev.Privileged, ev.Exit, ev.Err, ev.Duration >= 0))
		}
	}
	want := []string{
		"start nix-env privileged=true",
		"end nix-env privileged=true exit=3 err=web1: nix-env --rollback: exit status 3 took=true",
		"start true privileged=false",
		"end true privileged=false exit=-1 err=web1: connection lost took=true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
