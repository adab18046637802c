package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"nixdeck/internal/tail"
)

// The cache's HTTP server is Debian's nginx, run by the lab with its own
// configuration, prefix, logs and temporary directories under
// Dir/cache-server, on 127.0.0.1 only. It runs as a single process
// (master_process off): there are no workers to outlive a killed master,
// so the lab finds the server by its command line alone — the process
// whose argv names this lab's configuration file — and needs no pid file
// that a crash could leave stale (nginx wants one; the lab never reads it).
// nginx binds its port before it daemonizes, so once `nginx` has exited
// successfully the server accepts connections.

// nginxPath is Debian's nginx (package nginx).
const nginxPath = "/usr/sbin/nginx"

// nginxConf is the server's configuration: %[1]s is the server
// directory, %[2]s the cache directory, %[3]d the port. The access log is
// one JSON object a request (escape=json quotes what the client sent).
const nginxConf = `# HTTP server of the nixdeck lab's binary cache (written by nixdeck lab)
daemon on;
master_process off;
pid "%[1]s/nginx.pid";
error_log "%[1]s/error.log";
events { worker_connections 512; }
http {
	types { text/x-nix-narinfo narinfo; application/x-nix-nar nar; text/plain nix-cache-info; }
	default_type application/octet-stream;
	log_format lab escape=json '{"remote":"$remote_addr","method":"$request_method","path":"$uri","status":$status,"bytes":$body_bytes_sent}';
	access_log "%[1]s/access.log" lab;
	client_body_temp_path "%[1]s/tmp/body";
	proxy_temp_path "%[1]s/tmp/proxy";
	fastcgi_temp_path "%[1]s/tmp/fastcgi";
	uwsgi_temp_path "%[1]s/tmp/uwsgi";
	scgi_temp_path "%[1]s/tmp/scgi";
	server {
		listen 127.0.0.1:%[3]d;
		root "%[2]s";
		autoindex off;
	}
}
`

// checkNginx reports a machine without nginx.
func checkNginx() error {
	if _, err := os.Stat(nginxPath); err != nil {
		return fmt.Errorf("lab: the binary cache needs nginx (Debian package nginx; `make demo` and `make test` install it): %w", err)
	}
	return nil
}

// serverDir holds the server's configuration, logs and temporary files.
func (l *Lab) serverDir() string { return filepath.Join(l.Dir, "cache-server") }

// serverConf is the server's configuration file.
func (l *Lab) serverConf() string { return filepath.Join(l.serverDir(), "nginx.conf") }

// startServer starts the cache's server on port; with port 0 it picks a
// free one, retrying when another process wins the race for it. It
// returns the port.
func (l *Lab) startServer(ctx context.Context, port int) (int, error) {
	if err := checkNginx(); err != nil {
		return 0, err
	}
	dir := l.serverDir()
	// nginx reads these paths as quoted strings, where $ starts a variable.
	for _, p := range []string{dir, filepath.Join(l.Dir, "cache")} {
		if strings.ContainsAny(p, "\"\\$;{}\n") {
			return 0, fmt.Errorf("lab: the cache server cannot serve from %q (quote, backslash, $, ; or brace in the path)", p)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return 0, err
	}
	return onFreePort(ctx, port, func(port int) (bool, error) {
		conf := fmt.Sprintf(nginxConf, dir, filepath.Join(l.Dir, "cache"), port)
		if err := os.WriteFile(l.serverConf(), []byte(conf), 0o644); err != nil {
			return false, err
		}
		cmd := exec.CommandContext(ctx, nginxPath, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", l.serverConf())
		cmd.Env = []string{"PATH=" + rootPATH}
		out, err := cmd.CombinedOutput()
		if err == nil {
			return false, nil
		}
		return bytes.Contains(out, []byte("Address already in use")),
			fmt.Errorf("lab: cache server (nginx) on port %d: %w: %s", port, err, tail.LastLines(string(out), 3))
	})
}

// serverPids returns the processes of this lab's cache server: nginx
// processes whose command line names the lab's configuration file.
func (l *Lab) serverPids() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && l.isServer(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isServer reports whether pid is this lab's cache server.
func (l *Lab) isServer(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(b) > 64<<10 {
		return false
	}
	argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if len(argv) == 0 || filepath.Base(argv[0]) != "nginx" {
		return false
	}
	for i := 1; i+1 < len(argv); i++ {
		if argv[i] == "-c" && argv[i+1] == l.serverConf() {
			return true
		}
	}
	return false
}

// stopServer stops the cache's server, if it runs, and waits until it has
// exited, which frees its port.
func (l *Lab) stopServer(ctx context.Context) error {
	for {
		pids := l.serverPids()
		if len(pids) == 0 {
			return nil
		}
		var fds []int
		for _, pid := range pids {
			if fd := signalChecked(pid, syscall.SIGTERM, func() bool { return l.isServer(pid) }); fd >= 0 {
				fds = append(fds, fd)
			}
		}
		err := waitExited(ctx, fds)
		for _, fd := range fds {
			unix.Close(fd)
		}
		if err != nil {
			return fmt.Errorf("lab: cache server (nginx, pids %v) did not stop: %w", pids, err)
		}
	}
}
