package nix

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"nixdeck/internal/limit"
	"nixdeck/internal/termtext"
)

// MaxFileDiffSize is the largest file (on either side) whose lines are diffed.
const MaxFileDiffSize = 256 << 10

// MaxEtcRead caps the bytes of file contents read from one side for line
// diffs; more changed text than that is refused with an error.
const MaxEtcRead = 64 << 20

// EntryKind is what an entry under etc/ turned out to be.
type EntryKind string

// The kinds of entries under etc/.
const (
	// KindFile is a regular file in the store, compared by SHA-256.
	KindFile EntryKind = "file"
	// KindLink is a link whose target leaves the store (etc/localtime ->
	// /etc/zoneinfo/UTC) or leads back into a directory above it: host
	// state, compared by its target text and never followed.
	KindLink EntryKind = "link"
	// KindDangling is a link that leads nowhere in the store (a missing
	// target, a file used as a directory, more than 40 links).
	KindDangling EntryKind = "dangling"
	// KindDir is an empty directory (the files of others stand for them).
	KindDir EntryKind = "directory"
	// KindSpecial is a FIFO, socket or device: never opened.
	KindSpecial EntryKind = "special"
)

// FileSum identifies one entry under etc/ by what it is and, for files,
// by content.
type FileSum struct {
	Kind EntryKind
	// Size and SHA256 describe a file's content.
	Size   int64
	SHA256 [32]byte
	// Link is the target text of a link (KindLink, KindDangling).
	Link string
	// Path is the store path a file's content was found at: what Read
	// takes. It differs between systems and is not compared.
	Path string
}

// same reports whether two entries are equal for the comparison.
func (s FileSum) same(o FileSum) bool {
	return s.Kind == o.Kind && s.Size == o.Size && s.SHA256 == o.SHA256 && s.Link == o.Link
}

// etcStoreDir is the store the walk of etc/ stays in; tests point it at
// their fixture's store.
var etcStoreDir = StoreDir

// FileTree is one side of an etc/ comparison: a system's etc directory,
// local or on a host.
type FileTree interface {
	// List returns every entry under etc/, keyed by its path relative to
	// etc/, following links only while they stay in the store (see
	// diff_files_walk.go).
	List(ctx context.Context) (map[string]FileSum, error)
	// Read returns the contents of files List found, keyed by their
	// FileSum.Path.
	Read(ctx context.Context, paths []string) (map[string][]byte, error)
}

// FileDiff is one entry under etc/ that differs between two systems.
type FileDiff struct {
	// Path is relative to the system, e.g. "etc/ssh/sshd_config".
	Path string `json:"path"`
	// Status is "modified", "added" or "removed".
	Status string `json:"status"`
	// OldType and NewType say what the entry is on each side (an
	// EntryKind: "file", "link", "dangling", "directory", "special");
	// empty where it is absent.
	OldType EntryKind `json:"old_type,omitempty"`
	NewType EntryKind `json:"new_type,omitempty"`
	// OldSize and NewSize are the sizes in bytes (-1 where the entry is
	// absent, 0 for what is not a file).
	OldSize int64 `json:"old_size"`
	NewSize int64 `json:"new_size"`
	// Binary marks files with NUL bytes; TooLarge files over MaxFileDiffSize.
	// Neither has a line diff.
	Binary   bool `json:"binary,omitempty"`
	TooLarge bool `json:"too_large,omitempty"`
	// Unified is the line diff in unified format (hunks only, no file header).
	Unified string `json:"unified,omitempty"`
	// OldLink and NewLink are the targets of links (KindLink,
	// KindDangling) on each side; a link has no line diff.
	OldLink string `json:"old_link,omitempty"`
	NewLink string `json:"new_link,omitempty"`
}

// DiffEtc compares the etc/ trees of two systems: entries that are the
// same (files by SHA-256) are skipped, changed text files read (both sides
// in one request each, at most MaxEtcRead bytes a side) and diffed.
func DiffEtc(ctx context.Context, old, new FileTree) ([]FileDiff, error) {
	var oldSums, newSums map[string]FileSum
	var oldErr, newErr error
	var wg sync.WaitGroup
	wg.Go(func() { oldSums, oldErr = old.List(ctx) })
	newSums, newErr = new.List(ctx)
	wg.Wait()
	if err := cmp.Or(oldErr, newErr); err != nil {
		return nil, err
	}
	paths := changedPaths(oldSums, newSums)
	oldRead, err := toRead(paths, oldSums)
	if err != nil {
		return nil, err
	}
	newRead, err := toRead(paths, newSums)
	if err != nil {
		return nil, err
	}
	oldData, newData := map[string][]byte{}, map[string][]byte{}
	if len(oldRead) > 0 {
		wg.Go(func() { oldData, oldErr = old.Read(ctx, oldRead) })
	}
	if len(newRead) > 0 {
		newData, newErr = new.Read(ctx, newRead)
	}
	wg.Wait()
	if err := cmp.Or(oldErr, newErr); err != nil {
		return nil, err
	}
	out := make([]FileDiff, 0, len(paths))
	for _, p := range paths {
		o, n := oldSums[p], newSums[p]
		out = append(out, fileDiff(p, o, n, oldData[o.Path], newData[n.Path]))
	}
	return out, nil
}

// toRead lists the store paths of the changed files small enough for a
// line diff, refusing more than MaxEtcRead bytes in all.
func toRead(paths []string, sums map[string]FileSum) ([]string, error) {
	var read []string
	var total int64
	for _, p := range paths {
		if s, ok := sums[p]; ok && s.Kind == KindFile && s.Size <= MaxFileDiffSize {
			if total += s.Size; total > MaxEtcRead {
				return nil, fmt.Errorf("more than %s of changed files under etc/ to diff", limit.Text(MaxEtcRead))
			}
			read = append(read, s.Path)
		}
	}
	return read, nil
}

// changedPaths lists, sorted, the entries that differ or exist on one side
// only. An empty directory that is only on one side is not listed when the
// other side has entries below it (it is a directory there too).
func changedPaths(old, new map[string]FileSum) []string {
	var paths []string
	for p, s := range new {
		if o, ok := old[p]; !ok || !o.same(s) {
			paths = append(paths, p)
		}
	}
	for p := range old {
		if _, ok := new[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	kept := paths[:0]
	for _, p := range paths {
		o, inOld := old[p]
		n, inNew := new[p]
		switch {
		case inOld && !inNew && o.Kind == KindDir && hasBelow(new, p):
		case inNew && !inOld && n.Kind == KindDir && hasBelow(old, p):
		default:
			kept = append(kept, p)
		}
	}
	return kept
}

// hasBelow reports whether sums has an entry under the directory p.
func hasBelow(sums map[string]FileSum, p string) bool {
	for q := range sums {
		if strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}

func fileDiff(p string, o, n FileSum, oldData, newData []byte) FileDiff {
	f := FileDiff{Path: "etc/" + p, Status: "modified", OldSize: -1, NewSize: -1,
		OldType: o.Kind, NewType: n.Kind, OldLink: o.Link, NewLink: n.Link}
	if p == "" {
		f.Path = "etc"
	}
	switch {
	case o.Kind == "":
		f.Status = "added"
	case n.Kind == "":
		f.Status = "removed"
	}
	if o.Kind != "" {
		f.OldSize = o.Size
	}
	if n.Kind != "" {
		f.NewSize = n.Size
	}
	switch {
	case !f.textual():
	case f.OldSize > MaxFileDiffSize || f.NewSize > MaxFileDiffSize:
		f.TooLarge = true
	case bytes.IndexByte(oldData, 0) >= 0 || bytes.IndexByte(newData, 0) >= 0:
		f.Binary = true
	default:
		f.Unified = UnifiedDiff(string(oldData), string(newData), 3)
	}
	return f
}

// textual reports whether both sides are files or absent: a line diff
// can show the change.
func (f FileDiff) textual() bool {
	return (f.OldType == "" || f.OldType == KindFile) && (f.NewType == "" || f.NewType == KindFile)
}

// Render prints the file diff like `diff -u` (or git for binaries), each
// header, hunk, removed and added line decorated (coloured) by m when it
// is not nil. Links, empty directories and special files get one line
// saying what each side has. Paths, link targets and lines come from the
// host and are made visible; lines keep their tabs.
func (f FileDiff) Render(m DiffMarker) string {
	path := termtext.Visible(f.Path)
	a, b := "a/"+path, "b/"+path
	if f.Status == "added" {
		a = "/dev/null"
	}
	if f.Status == "removed" {
		b = "/dev/null"
	}
	var s strings.Builder
	switch {
	case !f.textual():
		fmt.Fprintf(&s, "%s: %s, %s -> %s\n", path, f.Status, describeEntry(f.OldType, f.OldLink, f.OldSize),
			describeEntry(f.NewType, f.NewLink, f.NewSize))
	case f.TooLarge:
		fmt.Fprintf(&s, "%s: %s, larger than %d KiB (old %s, new %s): not shown\n", path, f.Status,
			MaxFileDiffSize>>10, sizeOrAbsent(f.OldSize), sizeOrAbsent(f.NewSize))
	case f.Binary:
		fmt.Fprintf(&s, "Binary files %s and %s differ\n", a, b)
	default:
		s.WriteString(markLine(m, PartFileHeader, "--- "+a+"\n") + markLine(m, PartFileHeader, "+++ "+b+"\n"))
		for _, line := range strings.SplitAfter(f.Unified, "\n") {
			if line != "" {
				s.WriteString(markLine(m, linePart(line), termtext.VisibleLines(line)))
			}
		}
	}
	return s.String()
}

// describeEntry says what one side of a non-text change is.
func describeEntry(kind EntryKind, link string, size int64) string {
	switch kind {
	case "":
		return "absent"
	case KindLink:
		return "link to " + termtext.Visible(link)
	case KindDangling:
		return "dangling link to " + termtext.Visible(link)
	case KindDir:
		return "empty directory"
	case KindSpecial:
		return "special file"
	}
	return fmt.Sprintf("file of %d bytes", size)
}

func sizeOrAbsent(n int64) string {
	if n < 0 {
		return "absent"
	}
	return fmt.Sprintf("%d bytes", n)
}
