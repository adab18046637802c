package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"nixdeck/fleet/remote/sshtest"
	"nixdeck/nix/nixtest"
)

// These tests run the real binary and signal it, as Ctrl-C (SIGINT) or a
// service manager (SIGTERM) would.

// buildNixdeck builds the binary under test.
func buildNixdeck(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nixdeck")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// silentHost listens on 127.0.0.1 and never answers: a host stuck before
// the SSH handshake. Each accepted connection is announced on the channel.
func silentHost(t *testing.T) (port int, accepted <-chan struct{}) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port, ch
}

// signalFleet writes a fleet file in dir: the flake flakeDir, an identity
// and known_hosts of its own, and nodes (name → attr) on 127.0.0.1:port.
func signalFleet(t *testing.T, dir, flakeDir string, port int, nodes map[string]string) string {
	priv, _ := sshtest.NewKey(t)
	sshtest.WriteKeyFile(t, filepath.Join(dir, "id"), priv)
	sshtest.AppendFile(t, filepath.Join(dir, "known_hosts"), "")
	var b strings.Builder
	fmt.Fprintf(&b, "flake: %s\ndefaults:\n  identity: %s\n  known_hosts: %s\nnodes:\n", strconv.Quote(flakeDir),
		strconv.Quote(filepath.Join(dir, "id")), strconv.Quote(filepath.Join(dir, "known_hosts")))
	for name, attr := range nodes {
		fmt.Fprintf(&b, "  %s:\n    host: 127.0.0.1\n    port: %d\n    attr: %s\n", name, port, attr)
	}
	path := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sleeperFlake writes a flake with two systems: quick builds at once,
// sleeper runs a builder (marked with name=value in its environment) that
// sleeps until it is stopped.
func sleeperFlake(t *testing.T, name, value string) string {
	dir := t.TempDir()
	flake := fmt.Sprintf(`{ outputs = { self }: let
    mk = n: script: derivation { name = n; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" script ]; %s = "%s"; };
  in { quick = mk "nixos-system-quick" "echo > $out"; sleeper = mk "nixos-system-sleeper" "/bin/sleep 1000"; }; }
`, name, value)
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tmpDirForNix returns a TMPDIR for nixdeck where nixdeck's gc roots can
// be watched: Nix's builders (build users) must be able to enter the build
// directories it makes there, so the directory and its parent are opened up.
func tmpDirForNix(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// started is one nixdeck started by a test.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	exited         chan error
}

// startNixdeck starts bin with args, its environment extended by env.
func startNixdeck(t *testing.T, bin string, env []string, args ...string) *started {
	r := &started{cmd: exec.Command(bin, args...), exited: make(chan error, 1)}
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.exited <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
		}
	})
	return r
}

// exitCode waits for the run to end (it must, within limit) and returns
// its exit status.
func (r *started) exitCode(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-r.exited:
	case <-time.After(limit):
		t.Fatalf("nixdeck still running %s after the signal\nstdout:\n%s\nstderr:\n%s", limit, r.stdout.String(), r.stderr.String())
	}
	return r.cmd.ProcessState.ExitCode()
}

// waitAccept waits for nixdeck to connect to a silent host.
func (r *started) waitAccept(t *testing.T, accepted <-chan struct{}) {
	t.Helper()
	select {
	case <-accepted:
	case <-r.exited:
		t.Fatalf("nixdeck ended before it connected\nstdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("nixdeck did not connect within 2 minutes")
	}
}

// Ctrl-C while status waits for hosts: exit 130 (SIGTERM: 143), the hosts
// reported interrupted rather than failed.
func TestSignalStatus(t *testing.T) {
	nixtest.NeedNix(t)
	bin := buildNixdeck(t)
	for _, tt := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(signalName(tt.sig), func(t *testing.T) {
			dir := t.TempDir()
			port, accepted := silentHost(t)
			fleetFile := signalFleet(t, dir, sleeperFlake(t, "NIXDECK_TEST_BUILDER", "unused"), port, map[string]string{"web1": "quick", "web2": "quick"})
			r := startNixdeck(t, bin, nil, "-f", fleetFile, "status")
			r.waitAccept(t, accepted)
			r.cmd.Process.Signal(tt.sig)
			if code := r.exitCode(t, time.Minute); code != tt.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, tt.code, r.stderr.String())
			}
			for _, want := range []string{"web1  -    interrupted", "web2  -    interrupted"} {
				if !strings.Contains(r.stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout.String())
				}
			}
			if want := "interrupted by " + signalName(tt.sig); !strings.Contains(r.stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, r.stderr.String())
			}
		})
	}
}

// Ctrl-C while diff builds: exit 130, Nix and its builder stopped, no gc
// root left behind.
func TestSignalDiffBuild(t *testing.T) {
	nixtest.NeedNix(t)
	bin := buildNixdeck(t)
	name, value := nixtest.Marker(t)
	dir, tmp := t.TempDir(), tmpDirForNix(t)
	port, _ := silentHost(t)
	fleetFile := signalFleet(t, dir, sleeperFlake(t, "NIXDECK_TEST_BUILDER", value), port, map[string]string{"web1": "sleeper"})
	// nixdeck carries the marker too: the nix it starts inherits it.
	r := startNixdeck(t, bin, []string{"TMPDIR=" + tmp, name + "=" + value}, "-f", fleetFile, "diff")
	nixtest.WaitProcs(t, "NIXDECK_TEST_BUILDER", value, 1, 2*time.Minute, r.exited)
	r.cmd.Process.Signal(syscall.SIGINT)
	if code := r.exitCode(t, time.Minute); code != 130 {
		t.Errorf("exit %d, want 130\nstderr:\n%s", code, r.stderr.String())
	}
	if !strings.Contains(r.stdout.String(), "=== web1 ===\ninterrupted\n") {
		t.Errorf("stdout:\n%s", r.stdout.String())
	}
	nixtest.WaitNoProcs(t, "NIXDECK_TEST_BUILDER", value, 30*time.Second)
	nixtest.WaitNoProcs(t, name, value, 30*time.Second)
	assertNoRoots(t, tmp)
}

// The gc roots of built systems go when diff ends, whether it was stopped
// by a signal while waiting for the hosts or the hosts failed.
func TestSignalDiffHostsRemovesRoots(t *testing.T) {
	nixtest.NeedNix(t)
	bin := buildNixdeck(t)
	_, value := nixtest.Marker(t)
	flakeDir := sleeperFlake(t, "NIXDECK_TEST_BUILDER", value)
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		code int
		row  string
	}{
		{"SIGTERM", syscall.SIGTERM, 143, "=== web2 ===\ninterrupted\n"},
		{"SIGINT", syscall.SIGINT, 130, "=== web2 ===\ninterrupted\n"},
		{"unreachable", 0, 1, "=== web2 ===\nerror: web2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, tmp := t.TempDir(), tmpDirForNix(t)
			port, accepted := silentHost(t)
			if tt.sig == 0 {
				l, err := net.Listen("tcp", "127.0.0.1:0") // a port nobody listens on
				if err != nil {
					t.Fatal(err)
				}
				port = l.Addr().(*net.TCPAddr).Port
				l.Close()
			}
			fleetFile := signalFleet(t, dir, flakeDir, port, map[string]string{"web1": "quick", "web2": "quick"})
			r := startNixdeck(t, bin, []string{"TMPDIR=" + tmp}, "-f", fleetFile, "diff")
			if tt.sig != 0 {
				r.waitAccept(t, accepted)
				if roots, _ := filepath.Glob(filepath.Join(tmp, "nixdeck-diff-*", "*")); len(roots) == 0 {
					t.Fatalf("no gc root under %s while diff talks to the hosts", tmp)
				}
				r.cmd.Process.Signal(tt.sig)
			}
			if code := r.exitCode(t, 2*time.Minute); code != tt.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, tt.code, r.stderr.String())
			}
			if !strings.Contains(r.stdout.String(), tt.row) {
				t.Errorf("stdout lacks %q:\n%s", tt.row, r.stdout.String())
			}
			assertNoRoots(t, tmp)
		})
	}
}

// assertNoRoots fails if nixdeck left its gc root directory in tmp.
func assertNoRoots(t *testing.T, tmp string) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(tmp, "nixdeck-diff-*")); len(left) > 0 {
		t.Errorf("gc roots left behind: %v", left)
	}
}
