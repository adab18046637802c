package lab

import (
	"fmt"
	"runtime"
)

// A lab build host is a lab host like the others — its own store, Nix
// daemon and sshd, reached with the lab key — that the fleet file lists
// under `builders:` instead of `nodes:`; nixdeck builds on it through
// Nix's remote-build machinery (ssh-ng://, which runs `nix-daemon
// --stdio` on it over SSH). Its nix.conf lets it run more builds at once.

// maxBuilders bounds Options.Builders.
const maxBuilders = 20

// makeBuilders names n build hosts build01, build02, …
func makeBuilders(n int) []Host {
	hosts := make([]Host, n)
	for i := range hosts {
		hosts[i] = Host{Name: fmt.Sprintf("build%02d", i+1), Tags: []string{"builder"}, Builder: true}
	}
	return hosts
}

// checkBuilders validates Options.Builders.
func checkBuilders(n int) error {
	if n < 0 || n > maxBuilders {
		return fmt.Errorf("lab: --builders must be between 0 and %d, not %d", maxBuilders, n)
	}
	return nil
}

// Builders returns the lab's build hosts, in fleet file order.
func (l *Lab) Builders() []Host {
	var out []Host
	for _, h := range l.Hosts {
		if h.Builder {
			out = append(out, h)
		}
	}
	return out
}

// Nodes returns the lab's hosts that are fleet nodes, in fleet file order.
func (l *Lab) Nodes() []Host {
	var out []Host
	for _, h := range l.Hosts {
		if !h.Builder {
			out = append(out, h)
		}
	}
	return out
}

// nixSystem is the Nix system type of this machine, which the lab's
// builders build for.
func nixSystem() string {
	switch runtime.GOARCH {
	case "arm64":
		return "aarch64-linux"
	default:
		return "x86_64-linux"
	}
}
