package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// sshdPath is OpenSSH's server; sshd must be started by absolute path.
const sshdPath = "/usr/sbin/sshd"

// tools are the programs the lab runs, with the Debian package providing each.
var tools = []struct{ name, pkg string }{
	{"nix", "nix-bin"},
	{"nix-store", "nix-bin"},
	{"nix-env", "nix-bin"},
	{sshdPath, "openssh-server"},
	{"unshare", "util-linux"},
	{"nsenter", "util-linux"},
	{"flock", "util-linux"},
	{"sudo", "sudo"},
	{"perl", "perl-base"},
}

// Check reports what this machine lacks to run a lab: root, Nix, sshd,
// the namespace tools, sudo (for the deploy user) and perl (for the
// health endpoints). The error says what is missing and how to get it.
func Check() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (the lab mounts namespaces and runs sshd)")
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t.name); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.name, t.pkg))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the lab needs %s; `make demo` and `make test` install what is missing (as root)",
		strings.Join(missing, ", "))
}
