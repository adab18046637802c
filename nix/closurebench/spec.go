// Package closurebench builds synthetic NixOS-shaped system closures in the
// local Nix store, for the closure diff benchmark and the local closure
// tests. Packages are builtins.toFile paths (added at evaluation time, no
// build) with realistic names that reference each other like a real
// dependency graph; a small derivation adds the top level with sw, kernel
// and initrd links.
package closurebench

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Package is one store path of a synthetic system.
type Package struct {
	// Name is the store path's name, e.g. "glibc-2.39-52".
	Name string
	// Deps index earlier packages this one references.
	Deps []int
	// Selected puts the package into sw (environment.systemPackages).
	Selected bool
}

// Spec is a whole synthetic system: its top-level name and packages.
// Packages[0] is the kernel and Packages[1] the initrd.
type Spec struct {
	Name     string
	Packages []Package
}

var (
	base = []string{"glibc-2.39-52", "bash-5.2p32", "bash-interactive-5.2p32", "coreutils-9.5", "systemd-256.8",
		"openssl-3.0.14", "zlib-1.3.1", "xz-5.6.2", "ncurses-6.4.20221231", "util-linux-2.39.4-bin",
		"util-linux-2.39.4-lib", "perl-5.38.2", "python3-3.11.10", "gcc-13.3.0-lib", "tzdata-2024a",
		"curl-8.9.1", "curl-8.9.1-bin", "nix-2.18.8", "openssh-9.8p1", "sudo-1.9.15p5", "dbus-1.14.10",
		"iproute2-6.9.0", "kmod-31", "e2fsprogs-1.47.1", "shadow-4.14.6", "htop-3.3.0", "vim-9.1.0707",
		"git-2.46.1", "nginx-1.26.2", "postgresql-16.4", "OVMF-202402-fd", "linux-firmware-20240909",
		"mesa-24.2.4", "libxml2-2.13.4", "sqlite-3.46.1", "expat-2.6.3", "pcre2-10.44", "acl-2.3.2",
		"attr-2.5.2", "libcap-2.70-lib", "gnugrep-3.11", "gnused-4.9", "gawk-5.3.1", "findutils-4.10.0"}
	langs = []string{"python3.11-", "python3.12-", "perl5.38.2-", "lua5.4-", "ruby3.3-", "", ""}
	words = []string{"async", "http", "json", "yaml", "crypto", "test", "mock", "sql", "xml", "click",
		"attrs", "cache", "config", "date", "util", "log", "path", "io", "net", "parse", "tls", "term",
		"color", "text", "time", "uri", "web", "zip", "regex", "socket", "stream", "pool", "auth", "mail",
		"dns", "html", "image", "lint", "mime", "proto", "queue", "retry", "schema", "sign", "tree"}
	units = []string{"nginx", "sshd", "postgresql", "systemd-journald", "dbus", "nscd", "cron", "logrotate",
		"prometheus-node-exporter", "chronyd", "firewall", "getty", "network-setup", "resolvconf"}
	etcs = []string{"os-release", "hosts", "nsswitch.conf", "sshd_config", "sudoers", "profile", "bashrc",
		"resolv.conf", "systemd-system.conf", "nix-nix.conf", "fstab", "locale.conf", "issue", "zoneinfo"}
)

// Generate returns a system of about n packages with realistic names;
// the same seed gives the same system.
func Generate(name string, n int, seed uint64) Spec {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := Spec{Name: name}
	add := func(pname string, selected bool) {
		p := Package{Name: pname, Selected: selected}
		for k := r.IntN(4); k > 0 && len(s.Packages) > 2; k-- {
			p.Deps = append(p.Deps, 2+r.IntN(len(s.Packages)-2))
		}
		s.Packages = append(s.Packages, p)
	}
	add("linux-6.6.58", false)
	add("initrd-linux-6.6.58", false)
	add("linux-6.6.58-modules", false)
	for _, b := range base {
		add(b, r.IntN(3) == 0)
	}
	for i, u := range units {
		add("unit-"+u+".service", false)
		add("etc-"+etcs[i%len(etcs)], false)
	}
	for len(s.Packages) < n {
		w := words[r.IntN(len(words))] + "-" + words[r.IntN(len(words))]
		switch k := r.IntN(10); {
		case k < 7:
			add(langs[r.IntN(len(langs))]+w+"-"+version(r), r.IntN(40) == 0)
		case k < 9:
			add("lib"+strings.ReplaceAll(w, "-", "")+"-"+version(r), r.IntN(20) == 0)
		default:
			add(w, false) // no version, like "source" or "hook" paths
		}
	}
	return s
}

func version(r *rand.Rand) string {
	switch r.IntN(5) {
	case 0:
		return fmt.Sprintf("%d.%d", r.IntN(5), r.IntN(30))
	case 1:
		return fmt.Sprintf("%d.%d.%d-dev", r.IntN(5), r.IntN(30), r.IntN(20))
	case 2:
		return fmt.Sprintf("20%02d%02d%02d", 20+r.IntN(5), 1+r.IntN(12), 1+r.IntN(28))
	}
	return fmt.Sprintf("%d.%d.%d", r.IntN(5), r.IntN(30), r.IntN(20))
}

// Evolve returns the next release of s: a fraction of packages get a new
// version (which also changes every package that depends on them), a few
// are dropped, added or change selection.
func Evolve(s Spec, frac float64, seed uint64) Spec {
	r := rand.New(rand.NewPCG(seed, seed^0x51ed270b))
	n := Spec{Name: s.Name, Packages: append([]Package(nil), s.Packages...)}
	n.Name = bumpVersion(n.Name)
	for i := range n.Packages {
		p := &n.Packages[i]
		switch x := r.Float64(); {
		case x < frac && hasVersion(p.Name):
			p.Name = bumpVersion(p.Name)
		case x < frac+0.01 && i > 2:
			p.Name = "renamed-" + p.Name
		case x < frac+0.02:
			p.Selected = !p.Selected
		}
	}
	return n
}

// hasVersion reports whether name has a "-<digit>" version part.
func hasVersion(name string) bool {
	for i := 1; i+1 < len(name); i++ {
		if name[i] == '-' && name[i+1] >= '0' && name[i+1] <= '9' {
			return true
		}
	}
	return false
}

// bumpVersion raises the last number of the name's version.
func bumpVersion(name string) string {
	end := strings.LastIndexAny(name, "0123456789")
	if end < 0 {
		return name + "-1"
	}
	start := end
	for start > 0 && name[start-1] >= '0' && name[start-1] <= '9' {
		start--
	}
	var v int
	fmt.Sscanf(name[start:end+1], "%d", &v)
	return fmt.Sprintf("%s%d%s", name[:start], v+1, name[end+1:])
}
