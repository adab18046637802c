package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"nixdeck/fleet/remote/sshtest"
	"nixdeck/internal/proc"
	"nixdeck/internal/proctest"
	"nixdeck/internal/testenv"
)

// openSSH is a real OpenSSH sshd started for one test, so the transport is
// also checked against the server it will meet in production (the
// in-process server only mimics it).
type openSSH struct {
	port     int
	hostKeys map[string]ssh.PublicKey // by key type
}

// startOpenSSH runs /usr/sbin/sshd -D on a free 127.0.0.1 port with the
// given client key authorized for root. It needs root; it skips with the
// reason otherwise, and fails instead when CI=true.
func startOpenSSH(t *testing.T, client ssh.PublicKey) *openSSH {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		testenv.Missing(t, "%s is not installed", sshd)
	}
	testenv.NeedRoot(t, "sshd needs root")
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation directory
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := &openSSH{hostKeys: map[string]ssh.PublicKey{}}
	var hostKeyLines strings.Builder
	for name, key := range map[string]any{"ed25519": sshtestPriv(t), "ecdsa": mustECDSA(t), "rsa": mustRSA(t)} {
		block, err := ssh.MarshalPrivateKey(key, "")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "host_"+name)
		if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := ssh.NewSignerFromKey(key)
		if err != nil {
			t.Fatal(err)
		}
		o.hostKeys[s.PublicKey().Type()] = s.PublicKey()
		fmt.Fprintf(&hostKeyLines, "HostKey %s\n", p)
	}
	sshtest.AppendFile(t, filepath.Join(dir, "authorized_keys"), string(ssh.MarshalAuthorizedKey(client)))
	// The port is free when picked; another process may take it before
	// sshd binds it, and then sshd says so and exits: pick another.
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		o.port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cfg := fmt.Sprintf(`ListenAddress 127.0.0.1:%d
%sAuthorizedKeysFile %s/authorized_keys
PidFile %s/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
LogLevel INFO
SetEnv HOME=%s
`, o.port, hostKeyLines.String(), dir, dir, dir)
		// HOME points at the temp dir: bash, root's shell, sources ~/.bashrc in
		// SSH sessions, and a developer's can take seconds.
		cfgPath := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		log, err := runSSHD(t, sshd, cfgPath)
		if err == nil {
			return o
		}
		if attempt == 5 || !strings.Contains(log, "Cannot bind any address") {
			t.Fatalf("sshd: %v\n%s", err, log)
		}
	}
}

// runSSHD starts sshd -D -e with cfgPath and returns once it listens (it
// logs "Server listening on …"), or with its log and error when it exited
// first. sshd's log is shown when the test fails.
func runSSHD(t *testing.T, sshd, cfgPath string) (string, error) {
	t.Helper()
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfgPath)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log strings.Builder
	listening, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			fmt.Fprintln(&log, sc.Text())
			mu.Unlock()
			if strings.HasPrefix(sc.Text(), "Server listening on ") {
				close(listening)
			}
		}
	}()
	logged := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }
	select {
	case <-listening:
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if t.Failed() {
				t.Logf("sshd log:\n%s", logged())
			}
		})
		return "", nil
	case <-ended:
		return logged(), fmt.Errorf("exited before listening: %v", cmd.Wait())
	}
}

func sshtestPriv(t *testing.T) any { priv, _ := sshtest.NewKey(t); return priv }

func mustECDSA(t *testing.T) any {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRSA(t *testing.T) any {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOpenSSH(t *testing.T) {
	f := newFixture(t)
	o := startOpenSSH(t, f.key.PublicKey())
	// Only the RSA key is trusted: the transport must ask for it although
	// x/crypto would prefer ECDSA (golang/go#29286).
	sshtest.AppendFile(t, f.knownHosts, fmt.Sprintf("[127.0.0.1]:%d %s", o.port, ssh.MarshalAuthorizedKey(o.hostKeys[ssh.KeyAlgoRSA])))
	tg := Target{Name: "web01", Host: "127.0.0.1", Port: o.port, Identity: f.identity, KnownHosts: f.knownHosts}
	opts := testOptions()
	// Keepalives every 50ms run through all the subtests; two seconds
	// without an answer, which a loaded machine can hold sshd back for a
	// fraction of, would end the connection.
	opts.KeepAliveInterval, opts.KeepAliveMaxMissed = 50*time.Millisecond, 40
	c, err := Dial(context.Background(), tg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	t.Run("exit status and streams", func(t *testing.T) {
		var out, errOut strings.Builder
		err := c.Run(ctx, proc.Cmd{Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, Stdout: &out, Stderr: &errOut})
		var ee *proc.ExitError
		if !errors.As(err, &ee) || ee.Code != 7 || out.String() != "out\n" || errOut.String() != "err\n" {
			t.Errorf("err %v, stdout %q, stderr %q", err, out.String(), errOut.String())
		}
	})
	t.Run("signal", func(t *testing.T) {
		// bash, root's login shell, execs the lone command: sh is the
		// session's process and its own death is reported.
		err := c.Run(ctx, proc.Cmd{Argv: []string{"sh", "-c", "kill -KILL $$"}})
		var ee *proc.ExitError
		if !errors.As(err, &ee) || ee.Signal != "KILL" {
			t.Errorf("err %v, want killed by KILL", err)
		}
	})
	t.Run("cancel signals the command", func(t *testing.T) {
		// It says it runs, then it is cancelled; a marker of its own, since
		// another checkout's run of this test may have the same sleep.
		marker := uniqueSleep()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		out := newLineSignal()
		go func() { <-out.ready; cancel() }()
		err := c.Run(cctx, proc.Cmd{Argv: []string{"sh", "-c", "echo started; exec sleep " + marker}, Stdout: out})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		proctest.AssertGone(t, marker, 10*time.Second)
	})
	// Root sessions ignore signal requests; the process group is killed
	// from a second session, children and all.
	t.Run("cancel stops the whole process group", func(t *testing.T) {
		marker := uniqueSleep()
		// Cancelled once both sleeps run, not while it may still start.
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		out := newLineSignal()
		go func() { <-out.ready; cancel() }()
		start := time.Now()
		err := c.Run(cctx, proc.Cmd{Argv: []string{"sh", "-c", "trap '' TERM; sleep " + marker + " & echo started; exec sleep " + marker}, Stdout: out})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("cancel took %v", d)
		}
		proctest.AssertGone(t, marker, 5*time.Second)
	})
	t.Run("output bound", func(t *testing.T) {
		marker := fmt.Sprintf("flood-%d", time.Now().UnixNano())
		var out bytes.Buffer
		peak := proctest.WatchHeap()
		err := c.Run(ctx, proc.Cmd{Argv: []string{"sh", "-c", "exec head -c 1073741824 /dev/zero # " + marker}, Stdout: &out, MaxOutput: 1 << 20})
		var le *proc.OutputLimitError
		if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), "web01 sent more than 1 MiB of output for sh -c") || out.Len() != 1<<20 {
			t.Errorf("err %v after %d bytes, want *proc.OutputLimitError after 1 MiB", err, out.Len())
		}
		p := peak()
		t.Logf("heap peak %d MiB", p>>20)
		if p > 256<<20 {
			t.Errorf("heap peaked at %d MiB reading a 1 GiB answer cut at 1 MiB", p>>20)
		}
		proctest.AssertGone(t, marker, 5*time.Second)
	})
	t.Run("jump through sshd", func(t *testing.T) {
		jt := tg
		jt.Jump = fmt.Sprintf("root@127.0.0.1:%d", o.port)
		jc, err := Dial(ctx, jt, opts)
		if err != nil {
			t.Fatal(err)
		}
		jc.Close()
	})
	t.Run("scan", func(t *testing.T) {
		keys, err := Scan(ctx, tg, opts)
		if err != nil || len(keys) != 1 || !keys[0].Known || keys[0].Key.Type() != ssh.KeyAlgoRSA {
			t.Errorf("Scan = %+v, %v; want the known RSA key", keys, err)
		}
	})
	// sshd answers the keepalive request (a refusal is an answer) and
	// answered them during all of the above.
	if _, _, err := c.conn.SendRequest(keepaliveRequest, true, nil); err != nil {
		t.Errorf("keepalive request: %v", err)
	}
	if err := c.Err(); err != nil {
		t.Errorf("connection died: %v", err)
	}
}

// TestOpenSSHManyAgentKeys: with seven other keys in the agent, sshd
// disconnects ("Too many authentication failures") before it sees the
// fleet's identity unless that is offered first.
func TestOpenSSHManyAgentKeys(t *testing.T) {
	f := newFixture(t)
	o := startOpenSSH(t, f.key.PublicKey())
	sshtest.AppendFile(t, f.knownHosts, fmt.Sprintf("[127.0.0.1]:%d %s", o.port, ssh.MarshalAuthorizedKey(o.hostKeys[ssh.KeyAlgoED25519])))
	startAgentKeys(t, otherKeys(t, 7)...)
	c, err := Dial(context.Background(), Target{Name: "web01", Host: "127.0.0.1", Port: o.port, Identity: f.identity, KnownHosts: f.knownHosts}, testOptions())
	mustRun(t, c, err)
}
