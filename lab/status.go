package lab

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

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
}

// Status reports every host's state.
func (l *Lab) Status() ([]HostStatus, error) {
	st, err := l.readState()
	if err != nil {
		return nil, err
	}
	out := make([]HostStatus, 0, len(l.Hosts))
	for _, h := range l.Hosts {
		hd := l.hostDir(h.Name)
		s := HostStatus{Host: h, SSHD: l.sshdPid(h.Name) != 0}
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
