package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// installScript runs in a host's namespace with the closure's export on
// stdin: it imports the closure into the host's store and makes the system
// generation 1, the running and the booted system, as a NixOS install does.
const installScript = `set -e
nix-store --import >/dev/null
nix-env -p /nix/var/nix/profiles/system --set "$1"
ln -sfn "$1" /run/current-system
ln -sfn "$1" /run/booted-system
mkdir -p /nix/var/nixdeck-lab
echo "$1" > /nix/var/nixdeck-lab/boot-entry
host=$(cat "$1/etc/hostname")
for u in $(ls "$1/etc/systemd/system"); do
  printf '%s\t%s %s systemd[1]: Started %s.\n' "$u" "$(date '+%b %d %H:%M:%S')" "$host" "$u"
done >> /run/log/journal/lab.log
`

// importScript only imports the closure into the host's store.
const importScript = `nix-store --import >/dev/null`

// install copies the closure of system from this machine's store into the
// host's store and installs it as the host's first generation.
func (l *Lab) install(ctx context.Context, name, system string) error {
	return l.pipeClosure(ctx, name, system, installScript)
}

// Import copies the closure of system (a store path in this machine's
// store, e.g. from Build) into the named host's store with
// nix-store --export | nix-store --import, without activating anything.
// It is the lab's own copy, for tests and rehearsals; deployments use nixdeck.
func (l *Lab) Import(ctx context.Context, host, system string) error {
	if _, err := l.host(host); err != nil {
		return err
	}
	return l.pipeClosure(ctx, host, system, importScript)
}

// pipeClosure streams the export of system's closure into script, run by
// /bin/sh in the host's namespace with system as $1.
func (l *Lab) pipeClosure(ctx context.Context, name, system, script string) error {
	q, err := exec.CommandContext(ctx, "nix-store", "-qR", system).Output()
	if err != nil {
		return fmt.Errorf("lab host %s: closure of %s: %w", name, system, err)
	}
	export := exec.CommandContext(ctx, "nix-store", append([]string{"--export"}, strings.Fields(string(q))...)...)
	var exportErr bytes.Buffer
	export.Stderr = &exportErr
	imp := l.nsCommand(ctx, name, "/bin/sh", "-c", script, "sh", system)
	var impOut bytes.Buffer
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if imp.Stdin, err = export.StdoutPipe(); err != nil {
		return err
	}
	if err := export.Start(); err != nil {
		return fmt.Errorf("lab host %s: nix-store --export: %w", name, err)
	}
	impErr := imp.Run()
	if impErr != nil {
		// Nobody reads the export any more; do not let it block on the pipe.
		_ = export.Process.Kill()
	}
	expErr := export.Wait()
	if impErr != nil {
		return fmt.Errorf("lab host %s: import %s: %w: %s", name, system, impErr, lastLines(impOut.String(), 5))
	}
	if expErr != nil {
		return fmt.Errorf("lab host %s: nix-store --export: %w: %s", name, expErr, lastLines(exportErr.String(), 5))
	}
	return nil
}
