package nix

import (
	"slices"
	"sort"
	"strings"
)

// ClosureDiff is an nvd-style comparison of two closures: which package
// names changed version, selection state, appeared or disappeared, and how
// the closure grew. It is what `nixdeck diff --json` prints.
type ClosureDiff struct {
	// Old and New name the two sides as the user gave them, normalised as
	// nvd prints them (see DisplayPath).
	Old string `json:"old"`
	New string `json:"new"`
	// Versions lists names whose versions differ (states U, D, C).
	Versions []PackageChange `json:"version_changes"`
	// Selection lists names with equal versions whose selection changed (state C).
	Selection []PackageChange `json:"selection_changes"`
	// Added lists names only in New (state A); Removed names only in Old (state R).
	Added   []PackageChange `json:"added"`
	Removed []PackageChange `json:"removed"`
	// OldPaths and NewPaths count the closures' store paths.
	OldPaths int `json:"old_paths"`
	NewPaths int `json:"new_paths"`
	// PathsAdded and PathsRemoved count store paths (not names) only on one side.
	PathsAdded   int `json:"paths_added"`
	PathsRemoved int `json:"paths_removed"`
	// OldSize and NewSize are the closures' total NAR sizes in bytes.
	OldSize int64 `json:"old_size"`
	NewSize int64 `json:"new_size"`
}

// PackageChange is one line of a diff section.
type PackageChange struct {
	// Name is the package name from the store path (see SplitName).
	Name string `json:"name"`
	// State is U (upgrade), D (downgrade), C (changed), A (added) or R (removed).
	State string `json:"state"`
	// Selection is * (selected on both sides), + (newly selected),
	// - (no longer selected) or . (selected on neither).
	Selection string `json:"selection"`
	// Old and New are the versions on each side, ascending; a section that
	// shows one side only (selection, added, removed) fills just that side.
	Old []string `json:"old,omitempty"`
	New []string `json:"new,omitempty"`
}

// Empty reports whether the diff lists no package at all.
func (d *ClosureDiff) Empty() bool {
	return len(d.Versions)+len(d.Selection)+len(d.Added)+len(d.Removed) == 0
}

// DiffClosures compares two closures as nvd does; oldName and newName are
// shown in the header (through DisplayPath).
func DiffClosures(oldName, newName string, old, new *Closure) *ClosureDiff {
	d := &ClosureDiff{Old: DisplayPath(oldName), New: DisplayPath(newName), OldPaths: len(old.Paths), NewPaths: len(new.Paths),
		OldSize: old.NarSize(), NewSize: new.NarSize(),
		Versions: []PackageChange{}, Selection: []PackageChange{}, Added: []PackageChange{}, Removed: []PackageChange{}}
	for p := range new.Paths {
		if _, ok := old.Paths[p]; !ok {
			d.PathsAdded++
		}
	}
	d.PathsRemoved = d.OldPaths - (d.NewPaths - d.PathsAdded)

	// Selection comes from sw when both sides have one, else from the roots.
	oldSel, newSel := old.Refs, new.Refs
	if old.SW != "" && new.SW != "" {
		oldSel, newSel = old.SWRefs, new.SWRefs
	}
	sel := selection{old: nameSet(oldSel), new: nameSet(newSel)}

	ov, nv := versionsByName(old), versionsByName(new)
	for _, name := range sortedKeys(nv) {
		n := nv[name]
		o, both := ov[name]
		switch {
		case !both:
			d.Added = append(d.Added, PackageChange{Name: name, State: "A", Selection: sel.marker(name), New: texts(n)})
		case !equalVersions(o, n):
			d.Versions = append(d.Versions, PackageChange{Name: name, State: versionState(o, n),
				Selection: sel.marker(name), Old: texts(o), New: texts(n)})
		case sel.old[name] != sel.new[name]:
			d.Selection = append(d.Selection, PackageChange{Name: name, State: "C", Selection: sel.marker(name), Old: texts(o)})
		}
	}
	for _, name := range sortedKeys(ov) {
		if _, ok := nv[name]; !ok {
			d.Removed = append(d.Removed, PackageChange{Name: name, State: "R", Selection: sel.marker(name), Old: texts(ov[name])})
		}
	}
	return d
}

// DisplayPath writes a path the way nvd prints its arguments (Python's
// pathlib does it): "." components and repeated or trailing slashes go, so
// "./result" shows as "result"; ".." stays, and so do exactly two leading
// slashes (POSIX leaves their meaning open).
func DisplayPath(p string) string {
	root := ""
	switch {
	case strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///"):
		root = "//"
	case strings.HasPrefix(p, "/"):
		root = "/"
	}
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			parts = append(parts, s)
		}
	}
	if root == "" && len(parts) == 0 {
		return "."
	}
	return root + strings.Join(parts, "/")
}

// versionState classifies a version change: U when every old version is
// below every new one, D when every old one is above, C otherwise.
func versionState(o, n []Version) string {
	switch {
	case o[len(o)-1].Compare(n[0]) < 0:
		return "U"
	case o[0].Compare(n[len(n)-1]) > 0:
		return "D"
	}
	return "C"
}

type selection struct{ old, new map[string]bool }

func (s selection) marker(name string) string {
	switch o, n := s.old[name], s.new[name]; {
	case o && n:
		return "*"
	case n:
		return "+"
	case o:
		return "-"
	}
	return "."
}

func nameSet(paths []string) map[string]bool {
	m := make(map[string]bool, len(paths))
	for _, p := range paths {
		name, _ := SplitName(p)
		m[name] = true
	}
	return m
}

// versionsByName groups a closure's versions by package name, each list
// ascending. Versions that compare equal but are spelt differently ("1.0"
// and "1-0") keep the order nix-store -qR lists their paths in, as in nvd
// (which shows the last of them); without that order, text order decides.
func versionsByName(c *Closure) map[string][]Version {
	rank := make(map[string]int, len(c.Order))
	for i, p := range c.Order {
		rank[p] = i
	}
	type ranked struct {
		v    Version
		rank int
	}
	byName := make(map[string][]ranked, len(c.Paths))
	for p := range c.Paths {
		name, v := SplitName(p)
		r, ok := rank[p]
		if !ok {
			r = -1
		}
		byName[name] = append(byName[name], ranked{ParseVersion(v), r})
	}
	m := make(map[string][]Version, len(byName))
	for name, vs := range byName {
		if len(vs) > 1 {
			slices.SortFunc(vs, func(a, b ranked) int {
				if c := a.v.Compare(b.v); c != 0 {
					return c
				}
				if a.rank >= 0 && b.rank >= 0 && a.rank != b.rank {
					return a.rank - b.rank
				}
				return strings.Compare(a.v.Text, b.v.Text)
			})
		}
		out := make([]Version, len(vs))
		for i, r := range vs {
			out[i] = r.v
		}
		m[name] = out
	}
	return m
}

// spellingsDiffer reports whether some name in paths has two versions
// that compare equal but are spelt differently: only then does the order
// of the closure decide which one is shown.
func spellingsDiffer(paths map[string]int64) bool {
	seen := make(map[string][]string, len(paths))
	for p := range paths {
		name, v := SplitName(p)
		for _, o := range seen[name] {
			if o != v && CompareVersions(o, v) == 0 {
				return true
			}
		}
		seen[name] = append(seen[name], v)
	}
	return false
}

func equalVersions(a, b []Version) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func texts(vs []Version) []string {
	t := make([]string, len(vs))
	for i, v := range vs {
		t[i] = v.Text
	}
	return t
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
