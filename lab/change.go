package lab

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"nixdeck/fleet"
)

// ChangeOptions say how `lab change` alters the selected hosts' next build.
type ChangeOptions struct {
	// Release switches the package set: "a" or "b"; "" keeps it.
	Release string
	// Fault bakes a fault into the next system: fail (activation exits 2),
	// units (exits 4), hang (never returns), breakssh (stops the sshd
	// listener), degraded (exits 0, then turns degraded: see DegradeAfter
	// and HoldDegraded), reboot (a new kernel); "none" clears it, "" keeps it.
	Fault string
	// DegradeAfter is how long after its activation a degraded system
	// turns degraded; 0 means DefaultDegradeAfter. Only with Fault degraded.
	DegradeAfter time.Duration
	// Bump makes the next system new even when nothing else changed, and
	// unlike any other lab's: the counter moves by a random step, so a
	// test that needs a system no other test has built (one that must not
	// be in this machine's store) gets one.
	Bump bool
}

// Faults are the fault kinds ChangeOptions.Fault accepts besides "none".
var Faults = []string{"fail", "units", "hang", "breakssh", "degraded", "reboot"}

// DefaultDegradeAfter is how long a degraded system stays healthy after
// its activation unless ChangeOptions.DegradeAfter says otherwise.
const DefaultDegradeAfter = 3 * time.Second

// maxDegradeAfter keeps a mistyped delay from leaving a host pending for days.
const maxDegradeAfter = time.Hour

// Change rewrites the lab flake's state so that the next build of the
// hosts matching sel differs as opts say; sel selects as Select does.
func (l *Lab) Change(sel string, opts ChangeOptions) error {
	switch opts.Release {
	case "", "a", "b":
	default:
		return fmt.Errorf("lab change: release %q: want a or b", opts.Release)
	}
	if opts.Fault != "" && opts.Fault != "none" && !slices.Contains(Faults, opts.Fault) {
		return fmt.Errorf("lab change: fault %q: want one of %s or none", opts.Fault, strings.Join(Faults, ", "))
	}
	degradeAfter, err := degradeSeconds(opts)
	if err != nil {
		return err
	}
	names, err := l.Select(sel)
	if err != nil {
		return err
	}
	st, err := l.readState()
	if err != nil {
		return err
	}
	for _, n := range names {
		hc := st.Hosts[n]
		if hc == nil {
			return fmt.Errorf("lab change: host %s is missing from %s/state.json", n, l.FlakeDir)
		}
		if opts.Release != "" {
			hc.Release = opts.Release
		}
		switch opts.Fault {
		case "":
		case "none":
			hc.Fault, hc.DegradeAfter = "", ""
		default:
			hc.Fault, hc.DegradeAfter = opts.Fault, degradeAfter
		}
		if opts.Bump {
			hc.Bump += 1 + rand.IntN(1<<30)
		}
	}
	return l.writeState(st)
}

// degradeSeconds checks opts.DegradeAfter and returns the delay of a
// degraded fault as sleep(1) takes it, "" for other faults.
func degradeSeconds(opts ChangeOptions) (string, error) {
	if opts.Fault != "degraded" {
		if opts.DegradeAfter != 0 {
			return "", fmt.Errorf("lab change: a delay before degrading needs fault degraded")
		}
		return "", nil
	}
	d := opts.DegradeAfter
	if d == 0 {
		d = DefaultDegradeAfter
	}
	if d < time.Millisecond || d > maxDegradeAfter {
		return "", fmt.Errorf("lab change: delay before degrading %s: want 1ms to %s", d, maxDegradeAfter)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64), nil
}

// Select returns the names of the hosts that sel matches, in lab order,
// with the fleet file's selector grammar (fleet.Fleet.Select): a comma list
// of names, @tags and globs, where !x removes matches of x; "" selects
// every host. A term matching no host, or an empty result, is an error.
func (l *Lab) Select(sel string) ([]string, error) {
	names, err := selectHosts(l.Hosts, sel)
	if err != nil {
		return nil, fmt.Errorf("lab %s: %w", l.Dir, err)
	}
	return names, nil
}

// selectHosts is Select on a list of hosts.
func selectHosts(hosts []Host, sel string) ([]string, error) {
	f := &fleet.Fleet{Nodes: make([]*fleet.Node, len(hosts))}
	for i, h := range hosts {
		f.Nodes[i] = &fleet.Node{Name: h.Name, Tags: h.Tags}
	}
	nodes, err := f.Select(sel)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return names, nil
}

// SetHost stops (up false) or starts (up true) the named host's sshd, to
// make the host unreachable or bring it back; the host keeps its port.
func (l *Lab) SetHost(name string, up bool) error {
	h, err := l.host(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !up {
		return l.stopSSHD(ctx, name)
	}
	if l.sshdPid(name) != 0 {
		return nil
	}
	if _, ok := l.nsID(name); !ok {
		return fmt.Errorf("lab host %s: its namespace is gone (the lab is down; run `nixdeck lab up`)", name)
	}
	_, err = l.startSSHD(ctx, name, h.Port)
	return err
}

// HostStatus is what `nixdeck lab status` shows about one host, read from
// the host's trees without entering its namespace.
type HostStatus struct {
	Host
	// SSHD is true when the host's sshd listener runs.
	SSHD bool
	// Current and Booted are the targets of /run/current-system and
	// /run/booted-system ("" when unset).
	Current, Booted string
	// Generations are the numbers of the system profile's generations,
	// ascending; Profile is the one the profile points at.
	Generations []int
	Profile     int
	// Release, Fault and Bump are the host's configuration for its next build.
	Release, Fault string
	Bump           int
	// Versions are the Nix and OpenSSH the host runs.
	Versions
}

// Status reports every host's state.
func (l *Lab) Status() ([]HostStatus, error) {
	st, err := l.readState()
	if err != nil {
		return nil, err
	}
	out := make([]HostStatus, 0, len(l.Hosts))
	versions := l.hostVersions(context.Background())
	for _, h := range l.Hosts {
		hd := l.hostDir(h.Name)
		s := HostStatus{Host: h, SSHD: l.sshdPid(h.Name) != 0, Versions: versions[h.Name]}
		s.Current, _ = os.Readlink(filepath.Join(hd, "run", "current-system"))
		s.Booted, _ = os.Readlink(filepath.Join(hd, "run", "booted-system"))
		s.Generations, s.Profile = generations(filepath.Join(hd, "nix", "var", "nix", "profiles"))
		if hc := st.Hosts[h.Name]; hc != nil {
			s.Release, s.Fault, s.Bump = hc.Release, hc.Fault, hc.Bump
		}
		out = append(out, s)
	}
	return out, nil
}

// generations lists system-N-link in a profiles directory and the
// generation the system profile points at.
func generations(dir string) ([]int, int) {
	entries, _ := os.ReadDir(dir)
	var gens []int
	for _, e := range entries {
		n, ok := strings.CutPrefix(e.Name(), "system-")
		if n, ok = strings.CutSuffix(n, "-link"); !ok {
			continue
		}
		if g, err := strconv.Atoi(n); err == nil {
			gens = append(gens, g)
		}
	}
	sort.Ints(gens)
	cur := 0
	if t, err := os.Readlink(filepath.Join(dir, "system")); err == nil {
		n := strings.TrimSuffix(strings.TrimPrefix(t, "system-"), "-link")
		cur, _ = strconv.Atoi(n)
	}
	return gens, cur
}
