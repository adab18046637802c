package lab

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"nixdeck/internal/tail"
)

// A booted lab host runs two services besides sshd, started once its
// first system is installed:
//
//   - a Nix daemon on the host's own /nix: root uses the store directly,
//     but the deploy user, as on NixOS, reaches it only through the daemon;
//   - a health endpoint, an HTTP server on 127.0.0.1 at the host's own
//     port (Host.HealthPort) that answers GET /healthz with 200 while the
//     host is healthy and 503 while units have failed (when `systemctl
//     is-system-running` says degraded). Activations start it again when
//     it is not running (switch-to-configuration.sh); `lab down` stops it
//     with everything else.

// healthdScript is the health endpoint's server; see healthd.pl.
//
//go:embed healthd.pl
var healthdScript []byte

// healthdPath is where the lab keeps the server for its hosts to run.
func (l *Lab) healthdPath() string { return filepath.Join(l.Dir, "healthd.pl") }

// writeHealthd writes the server into the lab directory.
func (l *Lab) writeHealthd() error { return os.WriteFile(l.healthdPath(), healthdScript, 0o644) }

// daemonScript starts the host's Nix daemon in its namespace, in a
// session of its own with no descriptor of the caller's, records its pid
// and waits for its socket.
const daemonScript = `set -e
mkdir -p /nix/var/nix/daemon-socket
rm -f /nix/var/nix/daemon-socket/socket
setsid nix-daemon </dev/null >>` + labRunDir + `/nix-daemon.log 2>&1 &
echo $! >` + labRunDir + `/nix-daemon.pid
i=0
while [ ! -S /nix/var/nix/daemon-socket/socket ]; do
	i=$((i + 1))
	if [ $i -gt 400 ]; then echo "nix-daemon did not come up (see ` + labRunDir + `/nix-daemon.log)" >&2; exit 1; fi
	sleep 0.05
done
`

// servicesScript starts a host's services in its namespace and prints the
// health endpoint's port: $1 is the server, $2 the port to listen on (0 for
// a free one). Both run in sessions of their own with no descriptor of
// the caller's, so that nothing waits for them.
const servicesScript = daemonScript + `exec perl "$1" "$2" ` + labRunDir + `
`

// startServices starts the host's Nix daemon and health endpoint and
// returns the endpoint's port.
func (l *Lab) startServices(ctx context.Context, name string) (int, error) {
	out, err := l.nsCommand(ctx, name, "/bin/sh", "-c", servicesScript, "sh", l.healthdPath(), "0").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("lab host %s: starting its services: %w: %s", name, err, tail.LastLines(string(out), 5))
	}
	port, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("lab host %s: health endpoint reported port %q", name, tail.LastLines(string(out), 3))
	}
	return port, l.writeHostEnv(name, port)
}

// HealthURL is the URL of the host's health endpoint.
func (h Host) HealthURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(h.HealthPort) + "/healthz"
}

// daemonPid returns the pid of the host's Nix daemon (its listener), 0
// when it is not running in the host's namespace.
func (l *Lab) daemonPid(name string) int {
	b, err := os.ReadFile(l.labRun(name, "nix-daemon.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	// A stale pid file may name another process.
	comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	ns, ok := l.nsID(name)
	if pns, pok := procNS(pid); !ok || !pok || pns != ns || strings.TrimSpace(string(comm)) != "nix-daemon" {
		return 0
	}
	return pid
}

// restartDaemon restarts the host's Nix daemon, which reads nix.conf only
// when it starts. Connections already open keep their worker and its
// settings.
func (l *Lab) restartDaemon(ctx context.Context, name string) error {
	if pid := l.daemonPid(name); pid != 0 {
		fd := signalChecked(pid, syscall.SIGTERM, func() bool { return l.daemonPid(name) == pid })
		if fd >= 0 {
			err := waitExited(ctx, []int{fd})
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("lab host %s: nix-daemon (pid %d) did not stop: %w", name, pid, err)
			}
		}
	}
	if out, err := l.nsCommand(ctx, name, "/bin/sh", "-c", daemonScript).CombinedOutput(); err != nil {
		return fmt.Errorf("lab host %s: starting nix-daemon: %w: %s", name, err, tail.LastLines(string(out), 5))
	}
	return nil
}
