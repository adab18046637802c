package lab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Every lab host has a non-root login, DeployUser, with the lab's operator
// key and real Debian sudo, so that `sudo: auto` and sudo's refusals are
// tried against the real thing. The machine's /etc is shared by all hosts
// and must not change, so the user exists only inside the host's mount
// namespace: nsSetup bind-mounts the host's own copies of /etc/passwd and
// /etc/group (the machine's, plus the user) and its own /etc/sudoers over
// the machine's. Bind-mounted files are never rewritten: a rename would
// leave the mount on the old file. What changes at run time, the user's
// sudo rule, lives in a directory under the host's /run that the sudoers
// file includes, where a rename is atomic and seen at once.

// DeployUser is the non-root login of every lab host: the lab's operator
// key logs in as it, and it may run anything as root with `sudo -n`
// unless SetSudoPassword made sudo want a password.
const DeployUser = "deploy"

// firstDeployID is where the search for the deploy user's uid and gid
// starts: above Debian's regular users, so that a uid the machine already
// uses is skipped rather than shared.
const firstDeployID = 2000

// Paths inside a lab host: its /run is the host's run/ tree, and labRun
// finds the same files from outside.
const (
	labRunDir      = "/run/nixdeck-lab"
	sudoersDirName = "sudoers.d"
	deployHomeName = "home-" + DeployUser
	sudoersDir     = labRunDir + "/" + sudoersDirName
	deployHome     = labRunDir + "/" + deployHomeName
	sudoersHeader  = "# sudoers of a nixdeck lab host (written by nixdeck lab; bind-mounted over /etc/sudoers in the host only)\n"
)

// hostSudoers is the host's /etc/sudoers. secure_path starts with the
// running system's sw/bin as NixOS's sudo finds commands there, and the
// session's user Nix configuration file (empty: the host's settings are
// its /etc/nix/nix.conf) reaches the root command through sudo.
var hostSudoers = sudoersHeader + `Defaults env_reset
Defaults secure_path="` + hostPATH + `"
Defaults env_keep += "NIX_USER_CONF_FILES"
Defaults !lecture
root ALL=(ALL:ALL) ALL
@includedir ` + sudoersDir + `
`

// sudoRule is the deploy user's sudo rule: passwordless, or wanting a
// password that the user does not have (sudo -n then fails with "a
// password is required").
func sudoRule(password bool) string {
	if password {
		return DeployUser + " ALL=(ALL:ALL) ALL\n"
	}
	return DeployUser + " ALL=(ALL:ALL) NOPASSWD: ALL\n"
}

// deployID returns a number free as a uid in the passwd files and as a
// gid in the group files of the etc directories (the machine's and those
// of the roots its hosts run in), for the deploy user and its group.
func deployID(etcDirs []string) (int, error) {
	used := map[int]bool{}
	for _, f := range etcFiles(etcDirs, "passwd", "group") {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, fmt.Errorf("lab: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			// name:password:id:... in both files
			if fields := strings.SplitN(line, ":", 4); len(fields) >= 3 {
				if id, err := strconv.Atoi(fields[2]); err == nil {
					used[id] = true
				}
			}
		}
	}
	for id := firstDeployID; id < 60000; id++ {
		if !used[id] {
			return id, nil
		}
	}
	return 0, fmt.Errorf("lab: no free uid for the %s user", DeployUser)
}

// etcFiles returns the named files of each etc directory.
func etcFiles(dirs []string, names ...string) []string {
	var files []string
	for _, d := range dirs {
		for _, n := range names {
			files = append(files, filepath.Join(d, n))
		}
	}
	return files
}

// etcDirs are the /etc directories the lab's hosts see: the machine's
// and those of the roots its current-Nix hosts run in.
func (l *Lab) etcDirs() []string {
	dirs := []string{"/etc"}
	for _, h := range l.Hosts {
		if d := hostEtc(h); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// hostEtc is the /etc the host's own files start from.
func hostEtc(h Host) string {
	if h.Root == "" {
		return "/etc"
	}
	return filepath.Join(h.Root, "etc")
}

// withEntry returns the lines of an /etc/passwd or /etc/group file without
// any entry for name (a machine's own deploy user would shadow the
// host's), followed by entry.
func withEntry(file []byte, name, entry string) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(file))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, name+":") {
			b.WriteString(line + "\n")
		}
	}
	b.WriteString(entry + "\n")
	return b.Bytes()
}

// writeUserFiles writes what the host's namespace mounts over the
// machine's /etc, or its root's (etc/passwd, etc/group, etc/sudoers in the
// host's directory), and the deploy
// user's home and passwordless sudo rule in its run tree. It runs before
// the namespace exists.
func (l *Lab) writeUserFiles(h Host, id int) error {
	name, hd := h.Name, l.hostDir(h.Name)
	if err := os.MkdirAll(filepath.Join(hd, "etc"), 0o755); err != nil {
		return err
	}
	// The password field "*" matches no password: sudo can never be
	// satisfied by one, and without "x" nobody looks for a shadow entry
	// the machine's /etc/shadow does not have.
	entries := map[string]string{
		"passwd": fmt.Sprintf("%s:*:%d:%d:nixdeck lab deploy user:%s:/bin/sh", DeployUser, id, id, deployHome),
		"group":  fmt.Sprintf("%s:x:%d:", DeployUser, id),
	}
	for file, entry := range entries {
		b, err := os.ReadFile(filepath.Join(hostEtc(h), file))
		if err != nil {
			return fmt.Errorf("lab host %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(hd, "etc", file), withEntry(b, DeployUser, entry), 0o644); err != nil {
			return err
		}
	}
	// sudo refuses a sudoers file that is not root's and 0440.
	if err := writeSudoers(filepath.Join(hd, "etc", "sudoers"), hostSudoers); err != nil {
		return err
	}
	if err := os.MkdirAll(l.labRun(name, sudoersDirName), 0o755); err != nil {
		return err
	}
	home := l.labRun(name, deployHomeName)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	if err := os.Chown(home, id, id); err != nil {
		return err
	}
	return l.writeSudoRule(name, false)
}

// writeSudoers writes a sudoers file as sudo accepts it: root's, 0440,
// replaced atomically.
func writeSudoers(path, text string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o440); err != nil {
		return err
	}
	// WriteFile keeps the mode of a file left by an earlier run.
	if err := os.Chmod(tmp, 0o440); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeSudoRule installs the deploy user's sudo rule on the host.
func (l *Lab) writeSudoRule(name string, password bool) error {
	// sudo skips included files whose names contain a dot, so the
	// temporary file never counts as a rule.
	if err := writeSudoers(l.labRun(name, sudoersDirName, DeployUser), sudoRule(password)); err != nil {
		return fmt.Errorf("lab host %s: %w", name, err)
	}
	return nil
}

// SetSudoPassword makes sudo on the named host want a password from the
// deploy user (required true: `sudo -n` fails with "sudo: a password is
// required") or run its commands without one again (required false, as
// after `lab up`). It takes effect for the next sudo command.
func (l *Lab) SetSudoPassword(name string, required bool) error {
	if _, err := l.host(name); err != nil {
		return err
	}
	return l.writeSudoRule(name, required)
}
