package lab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"nixdeck/nix"
)

// What Nix and OpenSSH a lab host runs: the machine's for hosts that share
// its /usr, the root's for current-Nix hosts (recorded when the root was
// built; a root never changes afterwards).

// Versions are the Nix and OpenSSH versions of a lab host ("2.26.3",
// "10.0p2"); a version that could not be read is "".
type Versions struct {
	Nix, OpenSSH string
}

// nixVersion reads the version from `nix --version` output.
func nixVersion(out string) (string, error) { return nix.ParseNixVersion(out) }

// sshdVersion reads the version from `sshd -V` output, whose first word is
// "OpenSSH_10.0p2" (Debian 13) or "OpenSSH_9.2," (Debian 12, which leaves
// out the portable release).
func sshdVersion(out string) (string, error) {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	first, _, _ := strings.Cut(line, " ")
	v, ok := strings.CutPrefix(strings.TrimSuffix(first, ","), "OpenSSH_")
	if !ok || v == "" || !strings.ContainsAny(v[:1], "0123456789") {
		return "", fmt.Errorf("sshd -V printed %q", line)
	}
	return v, nil
}

// machineVersions asks this machine's nix and sshd for their versions.
func machineVersions(ctx context.Context) Versions {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var v Versions
	if out, err := exec.CommandContext(ctx, "nix", "--version").Output(); err == nil {
		v.Nix, _ = nixVersion(string(out))
	}
	// sshd -V prints on stderr.
	if out, err := exec.CommandContext(ctx, sshdPath, "-V").CombinedOutput(); err == nil {
		v.OpenSSH, _ = sshdVersion(string(out))
	}
	return v
}

// hostVersions returns the versions of every host of the lab by name,
// asking the machine's commands once and reading each root's marker once.
func (l *Lab) hostVersions(ctx context.Context) map[string]Versions {
	out := make(map[string]Versions, len(l.Hosts))
	var machine *Versions
	roots := map[string]Versions{}
	for _, h := range l.Hosts {
		if h.Root == "" {
			if machine == nil {
				v := machineVersions(ctx)
				machine = &v
			}
			out[h.Name] = *machine
			continue
		}
		v, ok := roots[h.Root]
		if !ok {
			if r, err := OpenRoot(h.Root); err == nil {
				v = Versions{Nix: r.Nix, OpenSSH: r.OpenSSH}
			}
			roots[h.Root] = v
		}
		out[h.Name] = v
	}
	return out
}
