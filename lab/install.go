package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"nixdeck/internal/tail"
)

// installScript runs in a host's namespace with the closure's registration
// (nix-store --dump-db format) on stdin, its files already in the host's
// store layers: it mounts the host's /nix, registers the closure and makes
// the system generation 1 of the system profile.
//
// Where overlayfs is not available (D itself on an overlay, say) or $4 is
// "nooverlay", the base is hard-linked into the host's own tree instead.
const installScript = `set -e
opts="lowerdir=$2,upperdir=$3/nix,workdir=$3/nix-work"
if [ "$4" = nooverlay ] || ! { mount -t overlay overlay -o "$opts,redirect_dir=on" /nix 2>/dev/null ||
	mount -t overlay overlay -o "$opts" /nix 2>/dev/null; }; then
	cp -al "$2/store/." "$3/nix/store/"
	mount --bind "$3/nix" /nix
fi
nix-store --load-db
nix-env -p /nix/var/nix/profiles/system --set "$1"
`

// The hosts' /nix is an overlay: the lab's shared base store (the paths
// every host's first system has, hard-linked from this machine's store) as
// the read-only lower layer and the host's own nix/ tree as the upper one,
// so that 50 hosts do not each write the same thousands of files. Each
// host's database registers only its own closure, and everything a host
// writes later lands in its own tree.

// baseDir is the lower layer of every host's /nix.
func (l *Lab) baseDir() string { return filepath.Join(l.Dir, "base") }

// writeBase links the paths common to all systems into the base store and
// returns them.
func (l *Lab) writeBase(reg *registry, systems []string) (map[string]bool, error) {
	common := map[string]bool{}
	for i, sys := range systems {
		closure, err := reg.closure(sys)
		if err != nil {
			return nil, err
		}
		in := map[string]bool{}
		for _, p := range closure {
			in[p] = i == 0 || common[p]
		}
		common = in
	}
	store := filepath.Join(l.baseDir(), "store")
	if err := os.MkdirAll(store, 0o755); err != nil {
		return nil, err
	}
	for p, ok := range common {
		if !ok {
			delete(common, p)
		} else if err := linkTree(p, store+strings.TrimPrefix(p, "/nix/store")); err != nil {
			return nil, err
		}
	}
	return common, nil
}

// install puts system's closure into the host's store — the paths the base
// lacks hard-linked from this machine's store (store files are immutable),
// validity loaded with nix-store --load-db, which is how NixOS images seed
// their store — and installs it as the host's first generation.
func (l *Lab) install(ctx context.Context, name, system string, reg *registry, base map[string]bool) error {
	closure, err := reg.closure(system)
	if err != nil {
		return fmt.Errorf("lab host %s: %w", name, err)
	}
	store := filepath.Join(l.hostDir(name), "nix", "store")
	for _, p := range closure {
		if base[p] {
			continue
		}
		if err := linkTree(p, store+strings.TrimPrefix(p, "/nix/store")); err != nil {
			return fmt.Errorf("lab host %s: %w", name, err)
		}
	}
	mode := "overlay"
	if os.Getenv("NIXDECK_LAB_NO_OVERLAY") != "" {
		mode = "nooverlay"
	}
	cmd := l.nsCommand(ctx, name, "/bin/sh", "-c", installScript, "sh", system, l.baseDir(), l.hostDir(name), mode)
	cmd.Stdin = strings.NewReader(reg.dump(closure))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab host %s: install %s: %w: %s", name, system, err, tail.LastLines(string(out), 5))
	}
	return l.boot(name, system)
}

// boot does what booting system does to the host's /run, written from
// outside the namespace: running and booted system, boot entry, and the
// journal lines of the units starting.
func (l *Lab) boot(name, system string) error {
	hd := l.hostDir(name)
	for _, link := range []string{"current-system", "booted-system"} {
		if err := os.Symlink(system, filepath.Join(hd, "run", link)); err != nil {
			return fmt.Errorf("lab host %s: %w", name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(hd, "nix", "var", "nixdeck-lab", "boot-entry"), []byte(system+"\n"), 0o644); err != nil {
		return err
	}
	units, err := os.ReadDir(filepath.Join(system, "etc", "systemd", "system"))
	if err != nil {
		return fmt.Errorf("lab host %s: units of %s: %w", name, system, err)
	}
	var b strings.Builder
	now := time.Now().Format("Jan 02 15:04:05")
	for _, u := range units {
		fmt.Fprintf(&b, "%s\t%s %s systemd[1]: Started %s.\n", u.Name(), now, name, u.Name())
	}
	return os.WriteFile(filepath.Join(hd, "run", "log", "journal", "lab.log"), []byte(b.String()), 0o644)
}

// importScript imports a closure export into the host's store.
const importScript = `nix-store --import >/dev/null`

// Import copies the closure of system (a store path in this machine's
// store, e.g. from Build) into the named host's store with
// nix-store --export | nix-store --import, without activating anything.
// It is the lab's own copy, for tests and rehearsals; deployments use nixdeck.
func (l *Lab) Import(ctx context.Context, host, system string) error {
	if _, err := l.host(host); err != nil {
		return err
	}
	q, err := exec.CommandContext(ctx, "nix-store", "-qR", system).Output()
	if err != nil {
		return fmt.Errorf("lab: closure of %s: %w", system, err)
	}
	export := exec.CommandContext(ctx, "nix-store", append([]string{"--export"}, strings.Fields(string(q))...)...)
	var exportErr bytes.Buffer
	export.Stderr = &exportErr
	imp := l.nsCommand(ctx, host, "/bin/sh", "-c", importScript)
	var impOut bytes.Buffer
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if imp.Stdin, err = export.StdoutPipe(); err != nil {
		return err
	}
	if err := export.Start(); err != nil {
		return fmt.Errorf("lab: nix-store --export: %w", err)
	}
	impErr := imp.Run()
	if impErr != nil {
		// Nobody reads the export any more; do not let it block on the pipe.
		_ = export.Process.Kill()
	}
	expErr := export.Wait()
	if impErr != nil {
		return fmt.Errorf("lab host %s: import %s: %w: %s", host, system, impErr, tail.LastLines(impOut.String(), 5))
	}
	if expErr != nil {
		return fmt.Errorf("lab: nix-store --export %s: %w: %s", system, expErr, tail.LastLines(exportErr.String(), 5))
	}
	return nil
}
