package nix_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/nix"
)

// needRoot ends the test unless root and the tools of the activation
// scripts are there (see testenv.Missing).
func needRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "the tests give the activation scripts a /run of their own")
	testenv.NeedCommands(t, "setsid", "flock", "ps", "unshare", "nsenter")
}

// fakeSystem makes a directory shaped like a system with a
// switch-to-configuration that runs body.
func fakeSystem(t *testing.T, body string) string {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	stc := "#!/bin/sh\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, "bin", "switch-to-configuration"), []byte(stc), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func opID(t *testing.T) string {
	return fmt.Sprintf("test-%d-%d", os.Getpid(), time.Now().UnixNano())
}

// privateRun makes a mount namespace whose /run is a tmpfs of its own, so
// that the activation scripts, run there, write /run/nixdeck without
// touching the machine's. setup runs in it first (as sh -c). It returns a
// runner into the namespace, with bin ahead on PATH, and the directory
// that is the namespace's /run/nixdeck, as seen from the test; the
// namespace's /run/nixos is its sibling "nixos".
func privateRun(t *testing.T, setup string) (r nsRunner, bin, runDir string) {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"bin", "nixdeck", "nixos"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A process of its own holds the namespace: binding it to a file
	// (unshare --mount=FILE) fails with EINVAL now and then on this
	// machine's kernel when the test runs in a mount namespace other than
	// the machine's first, as under TestOperatorOnCurrentNix.
	holder := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", `mount -t tmpfs tmpfs /run && mkdir /run/nixdeck /run/nixos &&
mount --bind "$1/nixdeck" /run/nixdeck && mount --bind "$1/nixos" /run/nixos && sh -c "$2" && echo ready && exec sleep infinity`, "sh", dir, setup)
	var stderr strings.Builder
	holder.Stderr = &stderr
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		holder.Wait()
		t.Fatalf("private /run: setup %q: %s", setup, stderr.String())
	}
	ns := fmt.Sprintf("/proc/%d/ns/mnt", holder.Process.Pid)
	return nsRunner{ns: ns, bin: filepath.Join(dir, "bin")}, filepath.Join(dir, "bin"), filepath.Join(dir, "nixdeck")
}

// nsRunner runs commands inside a mount namespace (held by a process) with
// extra directories ahead on PATH.
type nsRunner struct{ ns, bin string }

func (r nsRunner) Run(ctx context.Context, c nix.Cmd) error {
	c.Argv = append([]string{"nsenter", "--mount=" + r.ns, "--", "env", "PATH=" + r.bin + ":" + os.Getenv("PATH")}, c.Argv...)
	return nix.LocalRunner{}.Run(ctx, c)
}

// gate is a FIFO a fake activation waits at (read -r _ <PATH) until the
// test opens it.
type gate struct {
	path string
	f    *os.File
}

// newGate makes the FIFO; opened for reading and writing here, it blocks
// neither this open nor the activation's, whose read waits for open.
func newGate(t *testing.T) *gate {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gate")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &gate{path: p, f: f}
}

func (g *gate) open() { g.f.Write([]byte("go\n")) }

// droppingRunner loses the connection once while following the
// activation, as an SSH session does when the network goes away: after
// the first line has come through. Its reconnect opens the gate the
// activation waits at, so the drop always falls in the middle.
type droppingRunner struct {
	nsRunner
	dropped atomic.Bool
}

func (d *droppingRunner) Run(ctx context.Context, c nix.Cmd) error {
	if strings.Contains(strings.Join(c.Argv, " "), "off=$2") && !d.dropped.Swap(true) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		out := c.Stdout
		c.Stdout = writerFunc(func(p []byte) (int, error) {
			n, err := out.Write(p)
			if strings.Contains(string(p), "\n") {
				cancel()
			}
			return n, err
		})
		d.nsRunner.Run(ctx, c)
		return fmt.Errorf("web1: %w", nix.ErrConnectionLost)
	}
	return d.nsRunner.Run(ctx, c)
}

// writerFunc adapts a function to io.Writer.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestActivateLocalDetached(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name    string
		body    string // GATE is the path of a gate
		action  nix.Action
		timeout time.Duration
		drop    bool
		want    nix.Outcome
		logs    []string
	}{
		{name: "units failed streams every line", action: nix.Test,
			body: `echo "activating the configuration... $1"; echo "warning: the following units failed: lab-app.service" >&2; exit 4`,
			want: nix.OutcomeUnitsFailed, logs: []string{"activating the configuration... test", "warning: the following units failed: lab-app.service"}},
		{name: "dry-activate", action: nix.DryActivate, body: `echo "would activate the configuration"`,
			want: nix.OutcomeDone, logs: []string{"would activate the configuration"}},
		// The timeout is what is tested; the line comes long before it.
		{name: "a hang is killed at the timeout", action: nix.Test, timeout: 3 * time.Second,
			body: `echo starting; exec sleep 600`, want: nix.OutcomeTimedOut,
			logs: []string{"starting", "nixdeck: switch-to-configuration ran past 3s and was killed"}},
		{name: "output resumes after a dropped connection", action: nix.Test, drop: true,
			body: `echo one; read -r _ <GATE; echo two; echo three; exit 2`,
			want: nix.OutcomeActivationFailed, logs: []string{"one", "two", "three"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, runDir := privateRun(t, "")
			g := newGate(t)
			sys := fakeSystem(t, strings.ReplaceAll(tt.body, "GATE", g.path))
			id := opID(t)
			var logs []string
			req := nix.ActivateRequest{Action: tt.action, Path: sys, OpID: id, Timeout: tt.timeout,
				Log: func(l string) { logs = append(logs, l) }}
			var runner nix.Runner = r
			if tt.drop {
				runner = &droppingRunner{nsRunner: r}
				req.Reconnect = func(context.Context) (nix.Runner, error) { g.open(); return r, nil }
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := nix.Activate(ctx, runner, req)
			if err != nil {
				t.Fatalf("Activate() error: %v", err)
			}
			if res.Outcome != tt.want || (tt.drop && res.Reconnects != 1) {
				t.Errorf("Activate() = %+v (%s), want %s", res, res.Outcome, tt.want)
			}
			if strings.Join(logs, "|") != strings.Join(tt.logs, "|") {
				t.Errorf("logs %q, want %q", logs, tt.logs)
			}
			st, err := os.Stat(filepath.Join(runDir, id))
			if err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("run directory: %v, %v; want mode 0700", st.Mode(), err)
			}
			if tt.want == nix.OutcomeTimedOut {
				// Gone already: until it is, it would hold the switch lock
				// that the caller's next step may need.
				b, _ := os.ReadFile(filepath.Join(runDir, id, "pid"))
				if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid <= 0 || !testenv.WaitExit(pid, 0) {
					t.Errorf("the hung activation (pid %q) still runs after Activate returned", b)
				}
			}
		})
	}
}

func TestHostStateLocal(t *testing.T) {
	needRoot(t)
	s, err := nix.QueryHostState(context.Background(), nix.LocalRunner{})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if s.Hostname != host || s.Uptime <= 0 || !s.SwitchLock.Known {
		t.Errorf("local state %+v", s)
	}
}

// fakeSystemdRun stands in for systemd-run: like systemd, it starts the
// unit with an empty environment but for systemd's own compiled-in PATH
// (on NixOS it holds neither coreutils nor nix-env) and what -E passes.
const fakeSystemdRun = `#!/bin/sh
envs="PATH=/nonexistent/systemd/bin"
while [ $# -gt 0 ]; do
  case $1 in
  --) shift; break ;;
  -E) shift
    case $1 in
    *=*) envs="$envs $1" ;;
    *) eval "v=\${$1-}"; if [ -n "$v" ]; then envs="$envs $1=$v"; fi ;;
    esac ;;
  esac
  shift
done
cmd=$(command -v "$1"); shift
setsid env -i $envs "$cmd" "$@" </dev/null >/dev/null 2>&1 &
`

// TestActivateLocalSystemdUnitGetsPATH starts an activation on a "host"
// that runs systemd (a mount namespace with /run/systemd/system, the
// stand-in systemd-run above): the unit must find the commands the run
// script needs.
func TestActivateLocalSystemdUnitGetsPATH(t *testing.T) {
	needRoot(t)
	r, bin, _ := privateRun(t, "mkdir -p /run/systemd/system")
	if err := os.WriteFile(filepath.Join(bin, "systemd-run"), []byte(fakeSystemdRun), 0o755); err != nil {
		t.Fatal(err)
	}
	sys := fakeSystem(t, `echo "activating the configuration... $1"`)
	var logs []string
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := nix.Activate(ctx, r,
		nix.ActivateRequest{Action: nix.Test, Path: sys, OpID: opID(t), Log: func(l string) { logs = append(logs, l) }})
	if err != nil || res.Outcome != nix.OutcomeDone || strings.Join(logs, "|") != "activating the configuration... test" {
		t.Fatalf("Activate() under systemd-run = %+v, %v; logs %q", res, err, logs)
	}
}
