package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"nixdeck/internal/tail"
)

// rootPackages are what debootstrap installs on top of its minimal base:
// Nix, sshd, sudo for the deploy user and git for flakes in git checkouts
// (the operator-side tests). libdbi-perl is named because debootstrap
// misses it: nix-bin needs it through libdbd-sqlite3-perl, and without
// it both are left unconfigured (finishRoot repairs that case too).
var rootPackages = []string{"nix-bin", "openssh-server", "sudo", "git", "libdbi-perl"}

// finishRoot runs in a private mount namespace (the mounts go with it)
// on a root that debootstrap has installed: it configures whatever
// debootstrap left unconfigured, fetching missing dependencies with apt,
// drops the package cache and the host keys that openssh-server's
// installation made (every lab host has its own), and prints the
// versions of Nix and sshd. $1 is the root.
const finishRoot = `set -e
r=$1
mount -t proc proc "$r/proc"
mount --rbind /dev "$r/dev"
export DEBIAN_FRONTEND=noninteractive
if [ -n "$(chroot "$r" dpkg --audit)" ]; then
	chroot "$r" apt-get -f install -y -q >&2
fi
chroot "$r" dpkg --configure -a >&2
left=$(chroot "$r" dpkg --audit)
if [ -n "$left" ]; then
	printf 'packages left unconfigured:\n%s\n' "$left" >&2
	exit 1
fi
chroot "$r" apt-get clean
rm -rf "$r/debootstrap" "$r"/etc/ssh/ssh_host_*
mkdir -p "$r/nix"
chroot "$r" perl -MIO::Socket::INET -MPOSIX -e 1
chroot "$r" nix --version
chroot "$r" /usr/sbin/sshd -V 2>&1
`

// buildRoot builds the root in a temporary directory beside final and
// renames it into place when complete; what was at final before (a
// half-built root, or the root a rebuild replaces) is removed then, so
// that a build that fails leaves it as it was. debootstrap's output goes
// to a log beside the temporary directory, kept when the build fails.
func buildRoot(ctx context.Context, final string) (*Root, error) {
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return nil, errors.New("lab: debootstrap is missing (Debian package debootstrap; `make test` installs it)")
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".build-"+filepath.Base(final)+"-")
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	// MkdirTemp makes it 0700; as / of the hosts it must be 0755, or the
	// deploy user could reach nothing.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	logPath := tmp + ".log"
	r, err := buildRootIn(ctx, tmp, logPath)
	if err != nil {
		return nil, fmt.Errorf("lab: building the current-Nix root (log %s): %w", logPath, err)
	}
	// Set aside under a leftover's name: if this process dies before it
	// is removed, the next build removes it.
	old := tmp + "-replaced"
	if err := os.Rename(final, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	os.Remove(logPath)
	if err := os.RemoveAll(old); err != nil {
		return nil, fmt.Errorf("lab: removing the root replaced: %w", err)
	}
	r.Dir = final
	return r, nil
}

// buildRootIn runs debootstrap into dir, finishes the root and writes its
// marker.
func buildRootIn(ctx context.Context, dir, logPath string) (*Root, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	boot := exec.CommandContext(ctx, "debootstrap", "--variant=minbase",
		"--include="+strings.Join(rootPackages, ","), rootSuite, dir, mirror())
	boot.Stdout, boot.Stderr = log, log
	bootErr := boot.Run()
	if bootErr != nil {
		// debootstrap fails when a package will not configure; the
		// finishing script repairs that, but not a download that never
		// happened.
		if _, err := os.Stat(filepath.Join(dir, "usr", "bin", "apt-get")); err != nil {
			return nil, fmt.Errorf("debootstrap: %w: %s", bootErr, logTailOf(logPath, dir))
		}
		fmt.Fprintf(log, "nixdeck: debootstrap failed (%v); finishing the root with apt-get -f install\n", bootErr)
		if b, err := os.ReadFile(filepath.Join(dir, "debootstrap", "debootstrap.log")); err == nil {
			log.Write(b)
		}
	}
	var out bytes.Buffer
	finish := exec.CommandContext(ctx, "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", finishRoot, "sh", dir)
	finish.Stdout, finish.Stderr = &out, log
	if err := finish.Run(); err != nil {
		return nil, fmt.Errorf("finishing the root: %w: %s", err, logTailOf(logPath, ""))
	}
	r := &Root{Recipe: rootRecipe, Suite: rootSuite, Built: time.Now().UTC()}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) >= 2 {
		r.Nix, _ = nixVersion(lines[len(lines)-2])
		r.OpenSSH, _ = sshdVersion(lines[len(lines)-1])
	}
	if r.Nix == "" || r.OpenSSH == "" {
		return nil, fmt.Errorf("the root's nix --version and sshd -V printed %q", tail.LastLines(out.String(), 3))
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, rootMarkerName), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return r, nil
}

// logTailOf returns the last lines of the build log, or of debootstrap's
// own log in dir when that says more.
func logTailOf(logPath, dir string) string {
	if dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, "debootstrap", "debootstrap.log")); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return tail.LastLines(string(b), 5)
		}
	}
	b, _ := os.ReadFile(logPath)
	return tail.LastLines(string(b), 5)
}
