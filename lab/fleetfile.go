package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// fleetHeader is the top of the lab's fleet file (the Foundation schema):
// the lab flake, root logins with the lab key against the lab's
// known_hosts, and a rollout shaped for a small local fleet.
const fleetHeader = `# nixdeck lab fleet, written by ` + "`nixdeck lab up`" + `.
# Hosts are sshd processes on 127.0.0.1, each with its own /nix and /run.
flake: ./flake
defaults:
  user: root
  identity: ./id_ed25519
  known_hosts: ./known_hosts
deploy:
  action: switch
  parallel: 10
  canary: ["@canary"]
  batch: 50%
  max_failures: 0
  on_failure: halt
  soak: 5s
  magic_rollback: true
  confirm_timeout: 15s
  activation_timeout: 2m
  health:
    - name: system
      run: systemctl is-system-running
      timeout: 10s
    - name: http
      http: http://{host}:{vars.health_port}/healthz
      timeout: 10s
nodes:
`

// writeFleetFile writes Dir/fleet.yaml with every host: the nodes, then
// the builders and the binary cache when the lab has them.
func (l *Lab) writeFleetFile() error {
	var b strings.Builder
	cache := l.cacheOrNil()
	header := fleetHeader
	if cache != nil {
		header = strings.Replace(header, "  known_hosts: ./known_hosts\n", "  known_hosts: ./known_hosts\n  substitute_on_destination: true\n", 1)
	}
	b.WriteString(header)
	for _, h := range l.Nodes() {
		fmt.Fprintf(&b, "  %s:\n    host: 127.0.0.1\n    port: %d\n    tags: [%s]\n    vars: {health_port: %d}\n",
			h.Name, h.Port, strings.Join(h.Tags, ", "), h.HealthPort)
		if h.User != "" {
			fmt.Fprintf(&b, "    user: %s\n", h.User)
		}
	}
	if builders := l.Builders(); len(builders) > 0 {
		b.WriteString("builders:\n")
		for _, h := range builders {
			fmt.Fprintf(&b, "  %s:\n    host: 127.0.0.1\n    port: %d\n    systems: [%s]\n    max_jobs: %d\n",
				h.Name, h.Port, nixSystem(), builderMaxJobs)
			if h.User != "" {
				fmt.Fprintf(&b, "    user: %s\n", h.User)
			}
		}
	}
	if cache != nil {
		// The key file is named relative to the fleet file, as an
		// operator's would be; the cache directory is a store URI.
		// JSON strings are YAML double-quoted scalars.
		fmt.Fprintf(&b, "cache:\n  push: %s\n  sign_key: ./%s\n  substituter: %s\n  public_key: %s\n",
			jsonString(cache.PushURI), filepath.Base(cache.SecretKey), jsonString(cache.URL), jsonString(cache.PublicKey))
	}
	return writeFileAtomic(filepath.Join(l.Dir, "fleet.yaml"), []byte(b.String()), 0o644)
}

// SetUser makes the fleet file log in to the hosts that sel selects (as
// Select does) as user: DeployUser, or "root" (the fleet's default) again.
// It rewrites the fleet file and the lab's manifest; the hosts accept both
// users all along.
func (l *Lab) SetUser(sel, user string) error {
	switch user {
	case "root":
		user = ""
	case DeployUser:
	default:
		return fmt.Errorf("lab: user %q: the lab hosts have root and %s", user, DeployUser)
	}
	names, err := l.Select(sel)
	if err != nil {
		return err
	}
	for i := range l.Hosts {
		if slices.Contains(names, l.Hosts[i].Name) {
			l.Hosts[i].User = user
		}
	}
	if err := l.writeFleetFile(); err != nil {
		return err
	}
	return l.save()
}

// writeKnownHosts writes Dir/known_hosts with every host's key at its port.
func (l *Lab) writeKnownHosts() error {
	var b strings.Builder
	for _, h := range l.Hosts {
		pub, err := os.ReadFile(filepath.Join(l.hostDir(h.Name), "ssh_host_ed25519_key.pub"))
		if err != nil {
			return err
		}
		f := strings.Fields(string(pub))
		if len(f) < 2 {
			return fmt.Errorf("lab host %s: bad host key file", h.Name)
		}
		fmt.Fprintf(&b, "[127.0.0.1]:%d %s %s\n", h.Port, f[0], f[1])
	}
	return writeFileAtomic(filepath.Join(l.Dir, "known_hosts"), []byte(b.String()), 0o644)
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
