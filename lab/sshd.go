package lab

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"nixdeck/internal/proc"
)

// sshdConfig is a lab host's sshd configuration: key-only logins with the
// lab operator key, as root or as the deploy user, its own host key, pid
// file in the host's /run, the NixOS-like PATH for sessions, and commands
// run through the host's shell wrapper (see shell.go). Everything a login
// reads as its own user lives in the host's /run, which the deploy user
// can reach even when the lab directory is private. HOME is the host's own
// home directory: bash, root's login shell, sources ~/.bashrc for every
// SSH command, and the machine's /root/.bashrc (pyenv, cargo, …) costs
// seconds a command — enough to time out `nixdeck status` on a 50-host
// lab. sshd keeps the first value it reads of an option, so the deploy
// user's Match block comes first and the catch-all one after it.
const sshdConfig = `# sshd of nixdeck lab host %[1]s (written by nixdeck lab)
ListenAddress 127.0.0.1:%[2]d
HostKey %[3]s/ssh_host_ed25519_key
AuthorizedKeysFile %[4]s/authorized_keys
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel VERBOSE
MaxSessions 100
MaxStartups 100:30:200
Subsystem sftp internal-sftp
ForceCommand %[4]s/shell
Match User ` + DeployUser + `
	SetEnv PATH=%[5]s "NIX_USER_CONF_FILES=%[4]s/nix.conf" "HOME=` + deployHome + `"
Match all
	SetEnv PATH=%[5]s "NIX_USER_CONF_FILES=%[4]s/nix.conf" "HOME=%[3]s/home"
`

// writeKeyPair writes an ed25519 key pair as OpenSSH files path and
// path.pub and returns the public key line.
func writeKeyPair(path, comment string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
	return line, os.WriteFile(path+".pub", []byte(line+"\n"), 0o644)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1. Another
// process may take it before sshd binds it; startSSHD then retries.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// writeSSHDConfig writes the host's sshd_config for port.
func (l *Lab) writeSSHDConfig(name string, port int) error {
	hd := l.hostDir(name)
	if err := l.writeShellWrapper(name); err != nil {
		return err
	}
	conf := fmt.Sprintf(sshdConfig, name, port, hd, labRunDir, hostPATH)
	return os.WriteFile(filepath.Join(hd, "sshd_config"), []byte(conf), 0o644)
}

// writeHostEnv writes the file through which activations find the host's
// sshd and health endpoint again (run/nixdeck-lab/host.env).
func (l *Lab) writeHostEnv(name string, healthPort int) error {
	hd := l.hostDir(name)
	env, err := shellAssignments("LAB_HOST", name,
		"LAB_SSHD_CONFIG", filepath.Join(hd, "sshd_config"), "LAB_SSHD_LOG", filepath.Join(hd, "sshd.log"),
		"LAB_HEALTHD", l.healthdPath(), "LAB_HEALTH_PORT", strconv.Itoa(healthPort))
	if err != nil {
		return fmt.Errorf("lab host %s: %w", name, err)
	}
	return writeFileAtomic(filepath.Join(hd, "run", "nixdeck-lab", "host.env"), []byte(env), 0o644)
}

// shellAssignments renders name, value pairs as /bin/sh variable
// assignments, one a line, each value quoted.
func shellAssignments(kv ...string) (string, error) {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		v, err := proc.ShellQuote(kv[i+1])
		if err != nil {
			return "", fmt.Errorf("%s: %w", kv[i], err)
		}
		fmt.Fprintf(&b, "%s=%s\n", kv[i], v)
	}
	return b.String(), nil
}

// startSSHD starts the host's sshd in its namespace. With port 0 it picks a
// free port, retrying when another process wins the race for it; it returns
// the port sshd listens on.
func (l *Lab) startSSHD(ctx context.Context, name string, port int) (int, error) {
	return onFreePort(ctx, port, func(port int) (bool, error) {
		if err := l.writeSSHDConfig(name, port); err != nil {
			return false, err
		}
		hd := l.hostDir(name)
		pidFile := filepath.Join(hd, "run", "sshd.pid")
		_ = os.Remove(pidFile)
		logFile := filepath.Join(hd, "sshd.log")
		logStart := fileSize(logFile)
		out, err := l.nsCommand(ctx, name, sshdPath, "-f", filepath.Join(hd, "sshd_config"), "-E", logFile).CombinedOutput()
		if err == nil {
			err = l.waitListening(ctx, name, logFile, logStart)
		}
		if err == nil {
			return false, nil
		}
		return true, fmt.Errorf("lab host %s: sshd on port %d: %w: %s%s", name, port, err,
			strings.TrimSpace(string(out)), logTail(logFile))
	})
}

// onFreePort runs start on port and returns the port; with port 0 it runs
// start on a free port it picks, and on another one when start failed and
// says to retry (another process may take a free port before a server
// binds it), 8 times at most.
func onFreePort(ctx context.Context, port int, start func(port int) (retry bool, err error)) (int, error) {
	pick := port == 0
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if pick {
			if port, err = freePort(); err != nil {
				return 0, err
			}
		}
		var retry bool
		if retry, err = start(port); err == nil {
			return port, nil
		}
		if !pick || !retry || ctx.Err() != nil {
			break
		}
	}
	return 0, err
}

// errBind is a start of sshd that failed to bind its port.
var errBind = errors.New("cannot bind its port")

// waitListening waits for the sshd just started to write its pid file,
// which it does once its listener is bound: sshd daemonizes before binding,
// so its exit status does not tell. It fails with errBind when the log
// written since logStart reports the bind failure.
func (l *Lab) waitListening(ctx context.Context, name, logFile string, logStart int64) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if l.sshdPid(name) != 0 {
			return nil
		}
		if b, err := os.ReadFile(logFile); err == nil && int64(len(b)) > logStart {
			if s := string(b[logStart:]); strings.Contains(s, "Cannot bind any address") || strings.Contains(s, "fatal") {
				return errBind
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sshd did not come up: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// fileSize returns the size of a file, 0 when it does not exist.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logTail returns the last lines of a log file, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return " (" + strings.Join(lines, "; ") + ")"
}

// sshdPid returns the pid of the host's sshd listener, 0 when it is not
// running in the host's namespace.
func (l *Lab) sshdPid(name string) int {
	b, err := os.ReadFile(filepath.Join(l.hostDir(name), "run", "sshd.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	// A stale pid file may name a process that is not this host's sshd.
	ns, ok := l.nsID(name)
	if pns, pok := procNS(pid); !ok || !pok || pns != ns {
		return 0
	}
	return pid
}

// stopSSHD stops the host's sshd listener (sessions already open go on) and
// waits until it has exited, which frees its port.
func (l *Lab) stopSSHD(ctx context.Context, name string) error {
	pid := l.sshdPid(name)
	if pid == 0 {
		return nil
	}
	fd := signalChecked(pid, syscall.SIGTERM, func() bool { return l.sshdPid(name) == pid })
	if fd >= 0 {
		defer unix.Close(fd)
		if err := waitExited(ctx, []int{fd}); err != nil {
			return fmt.Errorf("lab host %s: sshd (pid %d) did not stop: %w", name, pid, err)
		}
	}
	_ = os.Remove(filepath.Join(l.hostDir(name), "run", "sshd.pid"))
	return nil
}
