package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// A mount namespace chrooted in a current-Nix root: the root, read-only,
// is the lower layer of an overlay whose upper layer is a tmpfs of the
// namespace's own, so that what the namespace writes outside its bind
// mounts (apt's and sudo's bits of /var, /tmp, the mount points below)
// never reaches the root that other hosts share and goes away with the
// namespace. The machine's /dev, /proc and /sys, and its /etc/hosts and
// /etc/resolv.conf (the namespace shares the machine's network), are
// mounted in, then the given directories and files, each at its
// path inside; then pivot_root makes the overlay the namespace's root, so
// that nsenter, like every process started in the namespace, finds
// itself in it.

// rootSetup runs in a fresh private mount namespace (unshare --mount
// --propagation private): $1 is the root, $2 an empty directory for the
// tmpfs, then pairs SOURCE TARGET to mount, then "--" and optionally a
// command to exec in the new root.
const rootSetup = `set -e
root=$1 scratch=$2
shift 2
mount -t tmpfs -o mode=0755 nixdeck-lab-root "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/new"
new=$scratch/new
mount -t overlay overlay -o "lowerdir=$root,upperdir=$scratch/upper,workdir=$scratch/work" "$new"
for d in dev proc sys; do mount --rbind "/$d" "$new/$d"; done
bind() {
	if [ -d "$1" ]; then mkdir -p "$new$2"; else mkdir -p "$(dirname "$new$2")"; touch "$new$2"; fi
	mount --bind "$1" "$new$2"
}
for f in hosts resolv.conf; do bind "/etc/$f" "/etc/$f"; done
while [ "$1" != -- ]; do
	bind "$1" "$2"
	shift 2
done
shift
mkdir "$new/.old-root"
cd "$new"
pivot_root . .old-root
umount -l /.old-root
rmdir /.old-root
cd /
if [ $# -gt 0 ]; then exec "$@"; fi
`

// bindMount is a directory or file mounted into a root namespace: Source
// outside at Target inside.
type bindMount struct{ Source, Target string }

// rootSetupArgs returns the arguments of rootSetup after the script.
func rootSetupArgs(root, scratch string, binds []bindMount, argv []string) []string {
	args := []string{"sh", root, scratch}
	for _, b := range binds {
		args = append(args, b.Source, b.Target)
	}
	args = append(args, "--")
	return append(args, argv...)
}

// RootRun says what RootCommand runs in a root and with what.
type RootRun struct {
	// Nix is the directory mounted on /nix: the command's own store.
	Nix string
	// EtcNix is the directory mounted on /etc/nix, "" for none.
	EtcNix string
	// Share are directories (or files) of the machine's mounted at the
	// same paths inside, such as a test binary's and its package's.
	Share []string
	// Dir is the working directory inside; "" means /.
	Dir string
	// Env is the command's environment; PATH is the root's own.
	Env []string
	// Argv is the command.
	Argv []string
}

// RootCommand returns a command that runs run.Argv chrooted in root, in a
// mount namespace of its own (the namespace and its mounts end with the
// command): Nix and OpenSSH are the root's, the store is run.Nix. It is
// how the operator-side tests run against the root's Nix. scratch is an
// empty directory that the command's namespace mounts its tmpfs on.
func RootCommand(ctx context.Context, root *Root, scratch string, run RootRun) (*exec.Cmd, error) {
	if err := checkRootTools(); err != nil {
		return nil, err
	}
	binds := []bindMount{{run.Nix, "/nix"}}
	if run.EtcNix != "" {
		binds = append(binds, bindMount{run.EtcNix, "/etc/nix"})
	}
	for _, p := range run.Share {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		binds = append(binds, bindMount{abs, abs})
	}
	argv := run.Argv
	if run.Dir != "" {
		argv = append([]string{"/bin/sh", "-c", `cd "$1" && shift && exec "$@"`, "sh", run.Dir}, argv...)
	}
	args := append([]string{"--mount", "--propagation", "private", "/bin/sh", "-c", rootSetup}, rootSetupArgs(root.Dir, scratch, binds, argv)...)
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(append([]string{}, run.Env...), "PATH="+rootPATH)
	cmd.WaitDelay = 2 * time.Second
	return cmd, nil
}

// rootPATH is the PATH of commands in a root outside a lab host: the
// root's own programs only.
const rootPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// checkRootTools reports what this machine lacks to enter a root.
func checkRootTools() error {
	for _, t := range []string{"unshare", "pivot_root", "mount"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("lab: %s is missing (Debian package util-linux / mount): %w", t, err)
		}
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("lab: entering a current-Nix root needs root")
	}
	return nil
}
