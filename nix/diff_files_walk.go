package nix

// The one rule both sides of `diff --files` follow, on this machine and on
// a host alike: a system's etc/ is walked from the store, one path
// component at a time, and a link is followed only while every step stays
// inside the store. A link whose target leaves it (absolute, relative, or a
// store prefix followed by "..") is compared by its target text and never
// followed, so no file, directory or device outside the store is ever
// opened, listed or hashed. The walk asks a storeFS for what is at a path;
// LocalTree answers from this machine's store, RemoteTree from what a host
// described (and when it has not described a path yet, the walk notes it
// and is run again after one more round trip).

import (
	"errors"
	"fmt"
	"strings"
)

// Caps on one etc/ tree; past them the comparison fails with an error
// naming the cap (documented in README, "/etc diffs").
const (
	// MaxEtcEntries is how many entries (files, links, empty
	// directories) one system's etc/ may hold.
	MaxEtcEntries = 100_000
	// maxLinks is how many links one path may go through, as Linux's 40.
	maxLinks = 40
	// maxWalkSteps bounds the path components followed for one tree, so
	// long link targets cannot make the walk quadratic.
	maxWalkSteps = 20_000_000
	// maxDepth is how deep etc/ may nest.
	maxDepth = 256
)

// node is what lstat says about one path in the store.
type node struct {
	typ    byte   // 'f' regular file, 'd' directory, 'l' symlink, 'o' anything else
	size   int64  // for files
	target string // for links
}

// storeFS answers the walk's questions about canonical paths: absolute,
// clean, inside the store, reached through real directories only.
type storeFS interface {
	// lstat says what is at p; last is false when the walk goes on below
	// p (a remote side then need not send what is under it).
	lstat(p string, last bool) (node, error)
	readDir(p string) ([]string, error) // sorted names
	hash(p string) ([32]byte, error)
}

var (
	// errMissing: nothing is at the path.
	errMissing = errors.New("no such file")
	// errNeed: a remote side has not described the path yet.
	errNeed = errors.New("not described yet")
)

// outcome is where following a path from a directory ended.
type outcome struct {
	path string // the canonical path reached, when stop is 0
	n    node
	// stop is 'l' when a link leaves the store (or leads back into a
	// directory being walked), 'x' when a link leads nowhere (a missing
	// target, a file used as a directory, too many links).
	stop byte
	// link is the target of the first link followed: the entry's own.
	link string
}

type etcWalker struct {
	fs      storeFS
	store   string
	out     map[string]FileSum
	walking map[string]bool // directories on the current walk path (at most maxDepth)
	steps   int
	pending bool // some path was errNeed: walk again after fetching
}

func newEtcWalker(fs storeFS) *etcWalker {
	return &etcWalker{fs: fs, store: etcStoreDir, out: map[string]FileSum{}, walking: map[string]bool{}}
}

// walkSystem lists root/etc; root must be a path in the store.
func (w *etcWalker) walkSystem(root string) error {
	rest, ok := strings.CutPrefix(root, w.store+"/")
	if !ok {
		return fmt.Errorf("%s is not in %s", root, w.store)
	}
	// One walk through the root to etc, so that a host is never asked to
	// list the whole system (its sw, firmware and kernel modules).
	etc, err := w.follow(w.store, append(strings.Split(rest, "/"), "etc"))
	if err != nil {
		return w.need(err)
	}
	if etc.stop == 'x' && etc.link == "" {
		// No etc; unless the system itself is missing, the tree is empty.
		if _, err := w.fs.lstat(root, false); err != nil {
			if errors.Is(err, errMissing) {
				return fmt.Errorf("%s does not exist", root)
			}
			return w.need(err)
		}
		return nil
	}
	return w.entry("", etc, 0)
}

// need records an errNeed and lets the walk go on; other errors end it.
func (w *etcWalker) need(err error) error {
	if errors.Is(err, errNeed) {
		w.pending = true
		return nil
	}
	return err
}

// entry records what the logical path rel (relative to etc/) reached.
func (w *etcWalker) entry(rel string, o outcome, depth int) error {
	if len(w.out) >= MaxEtcEntries {
		return fmt.Errorf("more than %d entries under etc/", MaxEtcEntries)
	}
	switch {
	case o.stop == 'l' || o.stop == 0 && o.n.typ == 'd' && w.encloses(o.path):
		w.out[rel] = FileSum{Kind: KindLink, Link: o.link}
	case o.stop == 'x':
		w.out[rel] = FileSum{Kind: KindDangling, Link: o.link}
	case o.n.typ == 'd':
		return w.walkDir(rel, o.path, depth+1)
	case o.n.typ == 'f':
		sum, err := w.fs.hash(o.path)
		if err != nil {
			return w.need(err)
		}
		w.out[rel] = FileSum{Kind: KindFile, Size: o.n.size, SHA256: sum, Path: o.path}
	default:
		w.out[rel] = FileSum{Kind: KindSpecial}
	}
	return nil
}

func (w *etcWalker) walkDir(rel, dir string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("etc/%s: nested more than %d directories deep", rel, maxDepth)
	}
	names, err := w.fs.readDir(dir)
	if err != nil {
		return w.need(err)
	}
	if len(names) == 0 && rel != "" {
		w.out[rel] = FileSum{Kind: KindDir}
		return nil
	}
	w.walking[dir] = true
	defer delete(w.walking, dir)
	for _, name := range names {
		o, err := w.follow(dir, []string{name})
		if err != nil {
			if err = w.need(err); err != nil {
				return err
			}
			continue
		}
		if err := w.entry(joinRel(rel, name), o, depth); err != nil {
			return err
		}
	}
	return nil
}

// encloses reports whether dir is, or holds, a directory being walked: a
// link to it leads back up and is compared by target, not walked again.
func (w *etcWalker) encloses(dir string) bool {
	for d := range w.walking {
		if d == dir || strings.HasPrefix(d, dir+"/") {
			return true
		}
	}
	return false
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// follow resolves comps from the canonical directory cur, component by
// component, as the kernel would, except that the path may never leave
// the store: not through an absolute link, not through "..".
func (w *etcWalker) follow(cur string, comps []string) (outcome, error) {
	o := outcome{n: node{typ: 'd'}}
	links := 0
	for len(comps) > 0 {
		if w.steps++; w.steps > maxWalkSteps {
			return o, fmt.Errorf("links under etc/ need more than %d steps to follow", maxWalkSteps)
		}
		if o.n.typ != 'd' {
			return w.stopAt(o, 'x'), nil // a file used as a directory
		}
		c := comps[0]
		comps = comps[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == w.store {
				return w.stopAt(o, 'l'), nil
			}
			cur = cur[:strings.LastIndexByte(cur, '/')]
			continue
		}
		next := cur + "/" + c
		n, err := w.fs.lstat(next, len(comps) == 0)
		if errors.Is(err, errMissing) {
			return w.stopAt(o, 'x'), nil
		}
		if err != nil {
			return o, err
		}
		if n.typ != 'l' {
			cur, o.n = next, n
			continue
		}
		if links++; links > maxLinks {
			return w.stopAt(o, 'x'), nil
		}
		if links == 1 {
			o.link = n.target
		}
		t := n.target
		if strings.HasPrefix(t, "/") {
			rest, ok := strings.CutPrefix(t, w.store)
			if !ok || rest != "" && rest[0] != '/' {
				return w.stopAt(o, 'l'), nil
			}
			cur, t = w.store, rest
		}
		comps = append(strings.Split(t, "/"), comps...)
	}
	if cur == w.store {
		return w.stopAt(o, 'l'), nil // the store itself is not walked
	}
	o.path = cur
	return o, nil
}

func (w *etcWalker) stopAt(o outcome, why byte) outcome {
	o.stop, o.path = why, ""
	return o
}
