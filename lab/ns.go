package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"nixdeck/internal/proc"
	"nixdeck/internal/tail"
)

// A host's mount namespace lives without a holder process: unshare binds it
// to a file under Dir/ns, a mount point with private propagation (as
// `ip netns` does), and every later command enters it with nsenter.

// prepareNSDir makes Dir/ns a private bind mount of itself, once.
func (l *Lab) prepareNSDir() error {
	dir := l.nsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if isMountPoint(dir) {
		return nil
	}
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount %s: %w", dir, err)
	}
	if err := syscall.Mount("", dir, "", syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether path is listed as a mount point of this
// process's mount namespace.
func isMountPoint(path string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMount(f[4]) == path {
			return true
		}
	}
	return false
}

// unescapeMount undoes the octal escapes of /proc/self/mountinfo (\040 for space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// nsSetup runs inside a new namespace: the host's run tree goes on /run
// (its /nix is mounted when its system is installed), its own user files
// over the machine's (see deployuser.go), its own etc/nix over the
// machine's /etc/nix (see nixconf.go), and the namespace files of this
// and other labs are dropped from the copy so that no namespace pins
// another.
const nsSetup = `set -e
mount --bind "$1/run" /run
for f in passwd group sudoers; do mount --bind "$1/etc/$f" "/etc/$f"; done
mount --bind "$1/etc/nix" /etc/nix
findmnt -rn -t nsfs -o TARGET | while read -r m; do umount -l "$m" 2>/dev/null || true; done
umount -l "$2" 2>/dev/null || true
`

// createNS makes the host's mount namespace: on the machine's root, or
// chrooted in the host's current-Nix root (rootns.go), where the host's
// run tree, /etc files and etc/nix are mounted in, and the lab directory
// at its own path: the host's sshd configuration, keys and logs, the
// health endpoint's script and the base store layer are all in it. The
// namespace files are not (a plain bind leaves out the mounts below).
func (l *Lab) createNS(ctx context.Context, h Host) error {
	name, hd := h.Name, l.hostDir(h.Name)
	f := l.nsFile(name)
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		return err
	}
	args := []string{"--mount=" + f, "--propagation", "private", "/bin/sh", "-c"}
	if h.Root == "" {
		args = append(args, nsSetup, "sh", hd, l.nsDir())
	} else {
		binds := []bindMount{{filepath.Join(hd, "run"), "/run"}, {l.Dir, l.Dir}, {filepath.Join(hd, "etc", "nix"), "/etc/nix"}}
		for _, f := range []string{"passwd", "group", "sudoers"} {
			binds = append(binds, bindMount{filepath.Join(hd, "etc", f), "/etc/" + f})
		}
		args = append(append(args, rootSetup), rootSetupArgs(h.Root, filepath.Join(hd, "rootfs"), binds, nil)...)
	}
	cmd := exec.CommandContext(ctx, "unshare", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab host %s: mount namespace: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// nsCommand returns a command that runs argv inside the host's namespace,
// with the environment an SSH session on the host gets.
func (l *Lab) nsCommand(ctx context.Context, name string, argv ...string) *exec.Cmd {
	args := append([]string{"--mount=" + l.nsFile(name), "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = append(hostEnviron(os.Environ()), "PATH="+hostPATH, "HOME="+filepath.Join(l.hostDir(name), "home"),
		"NIX_USER_CONF_FILES="+labRunDir+"/nix.conf")
	cmd.Dir = "/"
	// A command may leave children holding its output open (a hung
	// activation's sleep); do not wait for them once it has exited.
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// hostEnviron returns env without what would make a command on a host
// read another configuration than the host's own: the caller's Nix
// settings (the Makefile exports NIX_CONFIG='substituters =', which would
// override the host's substituters), its store and its home and XDG
// directories, whose Nix caches (negative narinfo lookups above all)
// would be shared by every host.
func hostEnviron(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NIX_CONFIG", "NIX_USER_CONF_FILES", "NIX_CONF_DIR", "NIX_REMOTE", "HOME",
			"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_STATE_HOME", "PATH":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// hostPATH is the PATH of commands on a lab host, as on NixOS: the running
// system's sw/bin first.
const hostPATH = "/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Exec runs argv inside the named host's mount namespace (its /nix and
// /run) with the environment of an SSH session on the host, and returns
// what it wrote to stdout. On failure the error names the host and the
// command, carries stderr's last lines, and wraps the *exec.ExitError.
// It is meant for test assertions and lab maintenance, not deployment.
func (l *Lab) Exec(ctx context.Context, host string, argv []string, stdin io.Reader) ([]byte, error) {
	if _, err := l.host(host); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := l.nsCommand(ctx, host, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("lab host %s: %s: %w: %s", host, proc.Format(argv), err, tail.LastLines(stderr.String(), 5))
	}
	return stdout.Bytes(), nil
}
