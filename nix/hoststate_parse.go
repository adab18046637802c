package nix

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// hostRecords are the records of hostStateScript's output: the single
// values by key, and the profiles directory entries in order.
type hostRecords struct {
	kv      map[string]string
	entries []profileEntry
}

// profileEntry is one system-*-link entry as the host reported it; a
// symlink has a time and a path (either may be empty when unreadable).
type profileEntry struct {
	name, time, path string
	link             bool
	hasTime          bool
}

// splitRecords splits the output into NUL-ended key=value records and
// checks their framing strictly: every record ended, keys of the script's
// alphabet, no single key twice, entry fields after their entry, the end
// marker last. Unknown keys are kept (a newer script may say more).
func splitRecords(out string) (*hostRecords, error) {
	if !strings.HasSuffix(out, "\x00") || !strings.HasSuffix(out, "end=1\x00") {
		return nil, fmt.Errorf("host state output incomplete (no end marker) after %d bytes", len(out))
	}
	recs := &hostRecords{kv: map[string]string{}}
	list := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
	for i, rec := range list {
		k, v, ok := strings.Cut(rec, "=")
		if !ok || !validKey(k) {
			return nil, fmt.Errorf("host state record %d: %s is not key=value", i+1, excerpt(rec))
		}
		var e *profileEntry
		if n := len(recs.entries); n > 0 {
			e = &recs.entries[n-1]
		}
		switch {
		case k == "entry":
			recs.entries = append(recs.entries, profileEntry{name: v})
		case k == "entry_time" && e != nil && !e.hasTime:
			e.time, e.hasTime = v, true
		case k == "entry_path" && e != nil && !e.link:
			e.path, e.link = v, true
		case k == "entry_time" || k == "entry_path":
			return nil, fmt.Errorf("host state record %d: %s out of place", i+1, k)
		case k == "end" && i != len(list)-1:
			return nil, fmt.Errorf("host state record %d: records after the end marker", i+1)
		default:
			if _, dup := recs.kv[k]; dup {
				return nil, fmt.Errorf("host state record %d: %s given twice", i+1, k)
			}
			recs.kv[k] = v
		}
	}
	return recs, nil
}

// validKey reports whether k is made of the script's key alphabet.
func validKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// excerpt quotes host text for an error message: escaped, and cut to a
// few dozen bytes.
func excerpt(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q… (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// ParseHostState parses the output of HostStateCmd. It fails only when the
// output itself is broken (cut short, not records); what the host reports
// in well-formed records is checked value by value, and values that do not
// hold up are left out and listed in HostState.Ignored.
func ParseHostState(out string) (*HostState, error) {
	recs, err := splitRecords(out)
	if err != nil {
		return nil, err
	}
	kv := recs.kv
	if kv["find"] != "1" {
		return nil, errors.New("host state: the host's links were not listed (the script needs GNU find)")
	}
	s := &HostState{}
	s.Hostname = strings.TrimSpace(kv["hostname"])
	s.Version = strings.TrimSpace(kv["version"])
	s.Systemd = kv["systemd"] == "1"
	for _, l := range []struct {
		key, path string
		dst       *string
	}{{"current", CurrentSystemLink, &s.Current}, {"booted", BootedSystemLink, &s.Booted}} {
		v, ok := kv[l.key]
		switch {
		case !ok:
			s.Missing = append(s.Missing, l.path)
		case v == "":
			s.ignore(l.path, "not a readable symbolic link")
		default:
			if err := checkStoreObject(v); err != nil {
				s.ignore(l.path, fmt.Sprintf("leads to %s: %v", excerpt(v), err))
			} else {
				*l.dst = v
			}
		}
	}
	seen := map[int]bool{}
	for _, e := range recs.entries {
		g, err := e.generation()
		switch {
		case err != nil:
			s.ignore(e.name, err.Error())
		case seen[g.Number]:
			s.ignore(e.name, "reported twice")
		default:
			seen[g.Number] = true
			s.Generations = append(s.Generations, g)
		}
	}
	if v, ok := kv["profile_link"]; ok {
		s.resolveProfile(v, recs.entries)
	} else {
		s.Missing = append(s.Missing, SystemProfile)
	}
	s.BootedSpec = s.bootSpec(kv, "booted", BootedSystemLink)
	s.ProfileSpec = s.bootSpec(kv, "profile", SystemProfile)
	s.RebootNeeded = RebootNeeded(s.BootedSpec, s.ProfileSpec)
	s.SwitchLock = parseSwitchLock(kv["switch_lock"])
	s.NixdeckLock = s.nixdeckLock(kv)
	if v, ok := kv["uptime"]; ok {
		up, err := parseUptime(v)
		if err != nil {
			s.ignore("/proc/uptime", err.Error())
		}
		s.Uptime = up
	}
	slices.SortFunc(s.Generations, func(a, b Generation) int { return a.Number - b.Number })
	for i := range s.Generations {
		g := &s.Generations[i]
		g.Profile = g.Number == s.ProfileGeneration
		g.Running = g.Path == s.Current
		g.Booted = g.Path == s.Booted
	}
	return s, nil
}

// generation checks one profiles directory entry: a symlink named
// system-N-link (N canonical, in range) with a plausible time, leading to
// a store object.
func (e profileEntry) generation() (Generation, error) {
	n, err := generationNumber(e.name)
	if err != nil {
		return Generation{}, err
	}
	if !e.link {
		return Generation{}, fmt.Errorf("not a symbolic link")
	}
	created, err := parseUnixTime(e.time)
	if err != nil {
		return Generation{}, fmt.Errorf("modification time: %w", err)
	}
	if e.path == "" {
		return Generation{}, fmt.Errorf("cannot be resolved")
	}
	if err := checkStoreObject(e.path); err != nil {
		return Generation{}, fmt.Errorf("leads to %s: %w", excerpt(e.path), err)
	}
	return Generation{Number: n, Created: created, Path: e.path}, nil
}

// resolveProfile takes the system profile's target, which Nix writes as
// the name of a generation link ("system-42-link"), to that generation's
// system. A generation that was reported but set aside has its reason in
// Ignored already. A profile linked straight to a store object (by hand)
// is set aside as a generation, its system kept.
func (s *HostState) resolveProfile(target string, entries []profileEntry) {
	if target == "" {
		s.ignore(SystemProfile, "not a readable symbolic link")
		return
	}
	n, err := generationNumber(target)
	if err != nil {
		s.ignore(SystemProfile, fmt.Sprintf("points to %s: %v", excerpt(target), err))
		// Not Nix's doing, but the system the next boot starts all the same.
		if checkStoreObject(target) == nil {
			s.Profile = target
		}
		return
	}
	s.ProfileGeneration = n
	if g, ok := s.Generation(n); ok {
		s.Profile = g.Path
	} else if !slices.ContainsFunc(entries, func(e profileEntry) bool { return e.name == target }) {
		s.ignore(SystemProfile, fmt.Sprintf("points to %s, which does not exist", target))
	}
}

// ignore records that the host's entry was set aside, and why.
func (s *HostState) ignore(entry, reason string) {
	s.Ignored = append(s.Ignored, Ignored{Entry: entry, Reason: reason})
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
