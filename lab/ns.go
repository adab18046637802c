package lab

import (
	"bytes"
	"context"
	"errors"
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
// (its /nix is mounted when its system is installed), and the namespace
// files of this and other labs are dropped from the copy so that no
// namespace pins another.
const nsSetup = `set -e
mount --bind "$1/run" /run
findmnt -rn -t nsfs -o TARGET | while read -r m; do umount -l "$m" 2>/dev/null || true; done
umount -l "$2" 2>/dev/null || true
`

// createNS makes the named host's mount namespace.
func (l *Lab) createNS(ctx context.Context, name string) error {
	f := l.nsFile(name)
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "unshare", "--mount="+f, "--propagation", "private",
		"/bin/sh", "-c", nsSetup, "sh", l.hostDir(name), l.nsDir())
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
	cmd.Env = append(os.Environ(), "PATH="+hostPATH, "NIX_USER_CONF_FILES="+l.nixConf())
	cmd.Dir = "/"
	// A command may leave children holding its output open (a hung
	// activation's sleep); do not wait for them once it has exited.
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// hostPATH is the PATH of commands on a lab host, as on NixOS: the running
// system's sw/bin first.
const hostPATH = "/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// nixConf is the Nix configuration of commands on lab hosts, added to the
// machine's /etc/nix/nix.conf through NIX_USER_CONF_FILES.
func (l *Lab) nixConf() string { return filepath.Join(l.Dir, "nix.conf") }

// nixConf keeps hosts off binary caches they cannot reach and stops each
// host's store from reserving 8 MiB of disk for garbage collection. It also
// turns build users off: a host's private /nix has its own build-user pool,
// but the nixbld uids are the machine's, and Nix SIGKILLs every process of
// the build user it takes — a build on a lab host would kill the operator's
// own builds running as the same nixbld uid.
const nixConf = "substituters =\ngc-reserved-space = 0\nbuild-users-group =\n"

// nsInode returns the inode number that identifies the host's namespace, as
// seen in /proc/PID/ns/mnt ("mnt:[INODE]"); 0 when the namespace is gone.
func (l *Lab) nsInode(name string) uint64 {
	f := l.nsFile(name)
	if !isMountPoint(f) {
		return 0
	}
	var st syscall.Stat_t
	if err := syscall.Stat(f, &st); err != nil {
		return 0
	}
	return st.Ino
}

// processesIn returns the pids of all processes whose mount namespace is one
// of inodes, keyed by pid.
func processesIn(inodes map[uint64]string) map[int]string {
	found := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "mnt"))
		if err != nil {
			continue
		}
		var ino uint64
		if _, err := fmt.Sscanf(link, "mnt:[%d]", &ino); err != nil {
			continue
		}
		if host, ok := inodes[ino]; ok {
			found[pid] = host
		}
	}
	return found
}

// fileID identifies a file by device and inode, from whichever mount
// namespace it is seen.
type fileID struct{ dev, ino uint64 }

// statID returns the fileID of path, following symlinks.
func statID(path string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true
}

// processesWithRun returns the pids of processes outside this process's
// mount namespace that see one of runs as their /run, keyed by pid. A
// process of a lab host that made a mount namespace of its own (unshare
// -m, a service's private mounts) is not in the host's namespace any more,
// but it carries the host's /run along.
func processesWithRun(runs map[fileID]string) map[int]string {
	found := map[int]string{}
	if len(runs) == 0 {
		return found
	}
	self, _ := os.Readlink("/proc/self/ns/mnt")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if link, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "mnt")); err != nil || link == self {
			continue
		}
		if id, ok := statID(filepath.Join("/proc", e.Name(), "root", "run")); ok {
			if host, ok := runs[id]; ok {
				pid, _ := strconv.Atoi(e.Name())
				found[pid] = host
			}
		}
	}
	return found
}

// labProcesses returns the lab's processes: those in one of the host
// namespaces (inodes) and those in namespaces of their own that see a
// host's /run (runs).
func labProcesses(inodes map[uint64]string, runs map[fileID]string) map[int]string {
	procs := processesIn(inodes)
	for pid, host := range processesWithRun(runs) {
		procs[pid] = host
	}
	return procs
}

// killNamespaces kills every process of the lab (see labProcesses) and
// waits until none is left.
func killNamespaces(ctx context.Context, inodes map[uint64]string, runs map[fileID]string) error {
	for {
		procs := labProcesses(inodes, runs)
		if len(procs) == 0 {
			return nil
		}
		for pid := range procs {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			var left []string
			for pid, host := range labProcesses(inodes, runs) {
				left = append(left, fmt.Sprintf("%d (%s)", pid, host))
			}
			if len(left) == 0 {
				return nil
			}
			return fmt.Errorf("processes still running in the lab: %s: %w", strings.Join(left, ", "), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// removeNS unmounts and removes the host's namespace file.
func (l *Lab) removeNS(name string) error {
	f := l.nsFile(name)
	if isMountPoint(f) {
		if err := syscall.Unmount(f, syscall.MNT_DETACH); err != nil {
			return fmt.Errorf("lab host %s: unmount %s: %w", name, f, err)
		}
	}
	if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Down stops every process of the lab — each host's sshd and anything else
// running in a host's namespace (sessions, hung or detached activations)
// or in a namespace made from one — and removes the namespaces. The lab's
// files stay; Up starts afresh.
func (l *Lab) Down(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	names := l.nsNames()
	inodes := map[uint64]string{}
	runs := map[fileID]string{}
	for _, name := range names {
		if pid := l.sshdPid(name); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if ino := l.nsInode(name); ino != 0 {
			inodes[ino] = name
		}
		if id, ok := statID(filepath.Join(l.hostDir(name), "run")); ok {
			runs[id] = name
		}
	}
	err := killNamespaces(ctx, inodes, runs)
	for _, name := range names {
		err = errors.Join(err, l.removeNS(name))
		_ = os.Remove(filepath.Join(l.hostDir(name), "run", "sshd.pid"))
	}
	if isMountPoint(l.nsDir()) {
		if uerr := syscall.Unmount(l.nsDir(), syscall.MNT_DETACH); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}
	return err
}

// nsNames returns the lab's hosts and any other host with a namespace file
// in Dir/ns (left by an up that failed before it recorded its hosts).
func (l *Lab) nsNames() []string {
	var names []string
	seen := map[string]bool{}
	for _, h := range l.Hosts {
		names, seen[h.Name] = append(names, h.Name), true
	}
	entries, _ := os.ReadDir(l.nsDir())
	for _, e := range entries {
		if !seen[e.Name()] {
			names = append(names, e.Name())
		}
	}
	return names
}

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
