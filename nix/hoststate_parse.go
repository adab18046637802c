package nix

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseHostState parses the output of HostStateCmd. Unknown keys are
// ignored (a newer script may say more); a missing end marker means the
// output was cut short.
func ParseHostState(out string) (*HostState, error) {
	s := &HostState{}
	kv := map[string]string{}
	ended := false
	for i, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not key=value", i+1, line)
		}
		switch k {
		case "gen":
			g, err := parseGeneration(v)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			s.Generations = append(s.Generations, g)
		case "end":
			ended = true
		default:
			kv[k] = v
		}
	}
	if !ended {
		return nil, fmt.Errorf("host state output incomplete (no end marker): %q", out)
	}
	s.Hostname = kv["hostname"]
	s.Current, s.Booted, s.Profile = kv["current"], kv["booted"], kv["profile"]
	s.Version = kv["version"]
	s.Systemd = kv["systemd"] == "1"
	if n, ok := strings.CutPrefix(kv["profile_link"], "system-"); ok {
		s.ProfileGeneration, _ = strconv.Atoi(strings.TrimSuffix(n, "-link"))
	}
	for _, f := range []string{"kernel", "initrd", "kernel-modules"} {
		b, p := kv["booted_"+f], kv["profile_"+f]
		if b != "" && p != "" && b != p {
			s.RebootNeeded = true
		}
	}
	s.SwitchLock = parseLock(kv["switch_lock"], "")
	s.NixdeckLock = parseLock(kv["nixdeck_lock"], strings.TrimSpace(kv["nixdeck_holder"]))
	if up, err := strconv.ParseFloat(kv["uptime"], 64); err == nil {
		s.Uptime = time.Duration(up * float64(time.Second)).Truncate(time.Second)
	}
	slices.SortFunc(s.Generations, func(a, b Generation) int { return a.Number - b.Number })
	for i := range s.Generations {
		g := &s.Generations[i]
		g.Profile = g.Number == s.ProfileGeneration
		g.Running = g.Path != "" && g.Path == s.Current
		g.Booted = g.Path != "" && g.Path == s.Booted
	}
	return s, nil
}

// parseGeneration parses "N MTIME PATH".
func parseGeneration(v string) (Generation, error) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return Generation{}, fmt.Errorf("generation %q: want number, time, path", v)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return Generation{}, fmt.Errorf("generation %q: bad number", v)
	}
	sec, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Generation{}, fmt.Errorf("generation %q: bad time", v)
	}
	return Generation{Number: n, Created: time.Unix(sec, 0).UTC(), Path: f[2]}, nil
}

func parseLock(v, holder string) Lock {
	switch v {
	case "free":
		return Lock{Known: true}
	case "held":
		return Lock{Known: true, Held: true, Holder: holder}
	}
	return Lock{}
}

// Generation returns the generation with number n, or false.
func (s *HostState) Generation(n int) (Generation, bool) {
	for _, g := range s.Generations {
		if g.Number == n {
			return g, true
		}
	}
	return Generation{}, false
}

// Previous returns the rollback target: the highest generation below the
// profile's current one.
func (s *HostState) Previous() (Generation, bool) {
	var prev Generation
	found := false
	for _, g := range s.Generations {
		if g.Number < s.ProfileGeneration && (!found || g.Number > prev.Number) {
			prev, found = g, true
		}
	}
	return prev, found
}
