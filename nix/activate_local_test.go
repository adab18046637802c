package nix_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"nixdeck/internal/testenv"
	"nixdeck/nix"
)

// needRoot ends the test unless root and the tools of the activation
// scripts are there (see testenv.Missing).
func needRoot(t *testing.T) {
	t.Helper()
	testenv.NeedRoot(t, "the activation scripts write "+nix.NixdeckRunDir)
	testenv.NeedCommands(t, "setsid", "flock", "ps")
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

// droppingRunner loses the connection on the first follow after a while,
// as an SSH session does when the network goes away.
type droppingRunner struct {
	nix.LocalRunner
	dropped atomic.Bool
}

func (d *droppingRunner) Run(ctx context.Context, c nix.Cmd) error {
	if strings.Contains(strings.Join(c.Argv, " "), "off=$2") && !d.dropped.Swap(true) {
		ctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		defer cancel()
		d.LocalRunner.Run(ctx, c)
		return fmt.Errorf("web1: %w", nix.ErrConnectionLost)
	}
	return d.LocalRunner.Run(ctx, c)
}

func TestActivateLocalDetached(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name    string
		body    string
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
		{name: "a hang is killed at the timeout", action: nix.Test, timeout: 1500 * time.Millisecond,
			body: `echo starting; exec sleep 600`, want: nix.OutcomeTimedOut, logs: []string{"starting"}},
		{name: "output resumes after a dropped connection", action: nix.Test, drop: true,
			body: `echo one; sleep 1; echo two; sleep 1; echo three; exit 2`,
			want: nix.OutcomeActivationFailed, logs: []string{"one", "two", "three"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := fakeSystem(t, tt.body)
			id := opID(t)
			t.Cleanup(func() { os.RemoveAll(filepath.Join(nix.NixdeckRunDir, id)) })
			var logs []string
			req := nix.ActivateRequest{Action: tt.action, Path: sys, OpID: id, Timeout: tt.timeout,
				Log: func(l string) { logs = append(logs, l) }}
			var r nix.Runner = nix.LocalRunner{}
			if tt.drop {
				r = &droppingRunner{}
				req.Reconnect = func(context.Context) (nix.Runner, error) { return nix.LocalRunner{}, nil }
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := nix.Activate(ctx, r, req)
			if err != nil {
				t.Fatalf("Activate() error: %v", err)
			}
			if res.Outcome != tt.want || (tt.drop && res.Reconnects != 1) {
				t.Errorf("Activate() = %+v (%s), want %s", res, res.Outcome, tt.want)
			}
			if strings.Join(logs, "|") != strings.Join(tt.logs, "|") {
				t.Errorf("logs %q, want %q", logs, tt.logs)
			}
			st, err := os.Stat(filepath.Join(nix.NixdeckRunDir, id))
			if err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("run directory: %v, %v; want mode 0700", st.Mode(), err)
			}
			if tt.want == nix.OutcomeTimedOut {
				pid, _ := os.ReadFile(filepath.Join(nix.NixdeckRunDir, id, "pid"))
				if !gone(strings.TrimSpace(string(pid)), 3*time.Second) {
					t.Errorf("the hung activation (pid %s) still runs", pid)
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

// gone waits for a process to exit (a zombie counts as gone: PID 1 of a
// container may be slow to reap it).
func gone(pid string, wait time.Duration) bool {
	for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return true
		}
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return true
		}
	}
	return false
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

// nsRunner runs commands inside a mount namespace (kept in a file) with
// extra directories ahead on PATH.
type nsRunner struct{ ns, bin string }

func (r nsRunner) Run(ctx context.Context, c nix.Cmd) error {
	c.Argv = append([]string{"nsenter", "--mount=" + r.ns, "--", "env", "PATH=" + r.bin + ":" + os.Getenv("PATH")}, c.Argv...)
	return nix.LocalRunner{}.Run(ctx, c)
}

// TestActivateLocalSystemdUnitGetsPATH starts an activation on a "host"
// that runs systemd (a mount namespace with /run/systemd/system, the
// stand-in systemd-run above): the unit must find the commands the run
// script needs.
func TestActivateLocalSystemdUnitGetsPATH(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	sh := func(script string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", script, "sh", dir).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", script, err, out)
		}
	}
	sh(`mount --bind "$1" "$1" && mount --make-private "$1" && mkdir "$1/bin" && touch "$1/ns"`)
	t.Cleanup(func() { exec.Command("sh", "-c", `umount -l "$1/ns"; umount -l "$1"`, "sh", dir).Run() })
	sh(`unshare --mount="$1/ns" --propagation private sh -c 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system'`)
	if err := os.WriteFile(filepath.Join(dir, "bin", "systemd-run"), []byte(fakeSystemdRun), 0o755); err != nil {
		t.Fatal(err)
	}
	sys := fakeSystem(t, `echo "activating the configuration... $1"`)
	var logs []string
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := nix.Activate(ctx, nsRunner{ns: filepath.Join(dir, "ns"), bin: filepath.Join(dir, "bin")},
		nix.ActivateRequest{Action: nix.Test, Path: sys, OpID: opID(t), Log: func(l string) { logs = append(logs, l) }})
	if err != nil || res.Outcome != nix.OutcomeDone || strings.Join(logs, "|") != "activating the configuration... test" {
		t.Fatalf("Activate() under systemd-run = %+v, %v; logs %q", res, err, logs)
	}
}
