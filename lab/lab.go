// Package lab runs a local fleet of NixOS-like hosts for tests, demos and
// rehearsals. Each lab host is a real OpenSSH sshd on 127.0.0.1 inside a
// private mount namespace in which the host's own directories are mounted on
// /nix and /run, so every host has its own Nix store, system profile and
// running system while sharing the machine's /usr and /etc. Current-Nix
// hosts run chrooted in a Debian 13 root instead, with its Nix and OpenSSH
// (root.go, rootns.go). The lab writes a fleet file and a flake whose
// nixosConfigurations build NixOS-shaped systems from plain derivations.
package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Lab is a lab fleet on this machine, up or down.
type Lab struct {
	// Dir holds everything of the lab: keys, fleet file, flake, host trees.
	Dir string
	// FleetPath is the lab's fleet file, Dir/fleet.yaml.
	FleetPath string
	// FlakeDir is the lab's flake, Dir/flake.
	FlakeDir string
	// Hosts are the lab hosts in fleet file order: the nodes, then the
	// builders (Builder true).
	Hosts []Host
}

// Host is one lab host.
type Host struct {
	// Name is the node name in the fleet file and the flake.
	Name string `json:"name"`
	// Port is the TCP port of the host's sshd on 127.0.0.1.
	Port int `json:"port"`
	// Tags are the host's fleet file tags (canary, web, db).
	Tags []string `json:"tags"`
	// User is the host's login user in the fleet file: "" for the
	// fleet's default (root), or DeployUser; see SetUser.
	User string `json:"user,omitempty"`
	// HealthPort is the TCP port of the host's health endpoint on
	// 127.0.0.1; see HealthURL.
	HealthPort int `json:"health_port"`
	// Root is the directory of the current-Nix root the host runs
	// chrooted in (see EnsureRoot); "" for a host on the machine's own
	// /usr and /etc, with the machine's Nix and OpenSSH.
	Root string `json:"root,omitempty"`
	// Builder is true for a build host: in the fleet file under
	// `builders:`, not a node; see Options.Builders.
	Builder bool `json:"builder,omitempty"`
	// CacheUntrusted is true for a host that does not trust the lab's
	// binary cache key; see SetCacheTrust.
	CacheUntrusted bool `json:"cache_untrusted,omitempty"`
}

// Options say how to bring a lab up.
type Options struct {
	// Dir is the lab directory; "" means DefaultDir().
	Dir string
	// Hosts is the number of hosts; 0 means 6.
	Hosts int
	// Current is how many hosts, the last ones, run current Nix and
	// OpenSSH chrooted in the Debian 13 root, which is built first when
	// it is not cached (see EnsureRoot).
	Current int
	// CurrentOn selects the current-Nix hosts by name, @tag or glob, as
	// Select does, instead of Current.
	CurrentOn string
	// Builders is the number of build hosts (build01, build02, …): lab
	// hosts that are not nodes but `builders:` of the fleet file, usable
	// as build_on: builder:NAME, with more parallelism in their nix.conf.
	Builders int
	// Cache gives the lab a signed binary cache served over HTTP (see
	// Cache), which every host substitutes from and trusts, and the fleet
	// file a `cache:` section and substitute_on_destination: true.
	Cache bool
	// Progress, when set, receives one line per finished phase with its time.
	Progress io.Writer
}

// manifestName is the file in Dir that records the lab's hosts and ports.
const manifestName = "lab.json"

// DefaultDir is where `nixdeck lab` keeps its lab without --dir:
// $XDG_STATE_HOME/nixdeck/lab, else ~/.local/state/nixdeck/lab.
func DefaultDir() string { return xdgDir("XDG_STATE_HOME", ".local/state", "lab") }

// xdgDir is $env/nixdeck/name, else ~/fallback/nixdeck/name, as the XDG
// base directory rules have it.
func xdgDir(env, fallback, name string) string {
	if x := os.Getenv(env); x != "" {
		return filepath.Join(x, "nixdeck", name)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, fallback, "nixdeck", name)
}

// newLab returns the Lab value for dir with its standard paths.
func newLab(dir string, hosts []Host) *Lab {
	return &Lab{
		Dir:       dir,
		FleetPath: filepath.Join(dir, "fleet.yaml"),
		FlakeDir:  filepath.Join(dir, "flake"),
		Hosts:     hosts,
	}
}

// Open reads the lab in dir, as left by Up; it does not check that the
// hosts are running (see Status).
func Open(dir string) (*Lab, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(abs, manifestName))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("no lab in %s (run `nixdeck lab up` first)", abs)
		}
		return nil, err
	}
	var hosts []Host
	if err := json.Unmarshal(b, &hosts); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(abs, manifestName), err)
	}
	return newLab(abs, hosts), nil
}

// OpenForDown reads the lab in dir like Open, but also finds a lab whose
// manifest is gone (an up that failed or was interrupted, files removed by
// hand) as long as its namespaces remain under dir/ns; Down then sweeps them.
func OpenForDown(dir string) (*Lab, error) {
	l, err := Open(dir)
	if err == nil {
		return l, nil
	}
	abs, aerr := filepath.Abs(dir)
	if aerr != nil {
		return nil, err
	}
	if entries, rerr := os.ReadDir(filepath.Join(abs, "ns")); rerr != nil || len(entries) == 0 {
		return nil, err
	}
	return newLab(abs, nil), nil
}

// save writes the manifest that Open reads.
func (l *Lab) save() error {
	b, err := json.MarshalIndent(l.Hosts, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(l.Dir, manifestName), append(b, '\n'), 0o644)
}

// host returns the named host.
func (l *Lab) host(name string) (Host, error) {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h, nil
		}
	}
	return Host{}, fmt.Errorf("lab %s has no host %q", l.Dir, name)
}

// hostDir is the directory of the named host: its nix/ and run/ trees, keys,
// sshd configuration and log.
func (l *Lab) hostDir(name string) string { return filepath.Join(l.Dir, "hosts", name) }

// labRun is a path in the named host's /run/nixdeck-lab, seen from
// outside the host; inside it is labRunDir/elem.
func (l *Lab) labRun(name string, elem ...string) string {
	return filepath.Join(append([]string{l.hostDir(name), "run", "nixdeck-lab"}, elem...)...)
}

// nsDir holds the files that keep the hosts' mount namespaces alive.
func (l *Lab) nsDir() string { return filepath.Join(l.Dir, "ns") }

// nsFile is the bind-mounted namespace file of the named host.
func (l *Lab) nsFile(name string) string { return filepath.Join(l.nsDir(), name) }

// writeFileAtomic replaces path with data so that readers never see half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
