package nix

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"nixdeck/internal/termtext"
)

// MaxFileDiffSize is the largest file (on either side) whose lines are diffed.
const MaxFileDiffSize = 256 << 10

// FileSum identifies a file's content cheaply: its POSIX cksum and size.
type FileSum struct {
	// CRC is the checksum cksum(1) prints (CRC-32/POSIX over content and length).
	CRC uint32
	// Size is the file's length in bytes.
	Size int64
	// Link is set instead for a symlink to an absolute path outside the
	// Nix store (etc/localtime -> /etc/zoneinfo/UTC): that is the host's
	// state, not the system's, and would resolve differently here and on
	// the host, so the link is compared by its target and never followed.
	Link string
}

// etcStoreDir is the store that links under etc/ may point into without
// counting as host state; tests point it at their fixture's store.
var etcStoreDir = StoreDir

// outOfStoreLink reports whether a symlink target leaves the Nix store.
func outOfStoreLink(target string) bool {
	return strings.HasPrefix(target, "/") && !strings.HasPrefix(target, etcStoreDir+"/")
}

// FileTree is one side of an etc/ comparison: a system's etc directory,
// local or on a host.
type FileTree interface {
	// List returns every regular file under etc/ (symlinks followed), keyed
	// by its path relative to etc/.
	List(ctx context.Context) (map[string]FileSum, error)
	// Read returns the contents of the named files (relative to etc/).
	Read(ctx context.Context, paths []string) (map[string][]byte, error)
}

// FileDiff is one file under etc/ that differs between two systems.
type FileDiff struct {
	// Path is relative to the system, e.g. "etc/ssh/sshd_config".
	Path string `json:"path"`
	// Status is "modified", "added" or "removed".
	Status string `json:"status"`
	// OldSize and NewSize are the sizes in bytes (-1 where the file is absent).
	OldSize int64 `json:"oldSize"`
	NewSize int64 `json:"newSize"`
	// Binary marks files with NUL bytes; TooLarge files over MaxFileDiffSize.
	// Neither has a line diff.
	Binary   bool `json:"binary,omitempty"`
	TooLarge bool `json:"tooLarge,omitempty"`
	// Unified is the line diff in unified format (hunks only, no file header).
	Unified string `json:"unified,omitempty"`
	// OldLink and NewLink are the targets of a link out of the store
	// (see FileSum.Link) on each side; such a link has no line diff.
	OldLink string `json:"oldLink,omitempty"`
	NewLink string `json:"newLink,omitempty"`
}

// DiffEtc compares the etc/ trees of two systems: files with equal checksums
// are skipped, the others read (both sides in one request each) and diffed.
func DiffEtc(ctx context.Context, old, new FileTree) ([]FileDiff, error) {
	var oldSums, newSums map[string]FileSum
	var oldErr, newErr error
	var wg sync.WaitGroup
	wg.Go(func() { oldSums, oldErr = old.List(ctx) })
	newSums, newErr = new.List(ctx)
	wg.Wait()
	if oldErr != nil {
		return nil, oldErr
	}
	if newErr != nil {
		return nil, newErr
	}
	paths := changedPaths(oldSums, newSums)
	var oldRead, newRead []string
	for _, p := range paths {
		if s, ok := oldSums[p]; ok && s.Link == "" && s.Size <= MaxFileDiffSize {
			oldRead = append(oldRead, p)
		}
		if s, ok := newSums[p]; ok && s.Link == "" && s.Size <= MaxFileDiffSize {
			newRead = append(newRead, p)
		}
	}
	oldData, newData := map[string][]byte{}, map[string][]byte{}
	if len(oldRead) > 0 {
		wg.Go(func() { oldData, oldErr = old.Read(ctx, oldRead) })
	}
	if len(newRead) > 0 {
		newData, newErr = new.Read(ctx, newRead)
	}
	wg.Wait()
	if oldErr != nil {
		return nil, oldErr
	}
	if newErr != nil {
		return nil, newErr
	}
	out := make([]FileDiff, 0, len(paths))
	for _, p := range paths {
		out = append(out, fileDiff(p, oldSums, newSums, oldData[p], newData[p]))
	}
	return out, nil
}

// changedPaths lists, sorted, the files that differ or exist on one side only.
func changedPaths(old, new map[string]FileSum) []string {
	var paths []string
	for p, s := range new {
		if o, ok := old[p]; !ok || o != s {
			paths = append(paths, p)
		}
	}
	for p := range old {
		if _, ok := new[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths
}

func fileDiff(p string, oldSums, newSums map[string]FileSum, oldData, newData []byte) FileDiff {
	f := FileDiff{Path: "etc/" + p, Status: "modified", OldSize: -1, NewSize: -1}
	o, inOld := oldSums[p]
	n, inNew := newSums[p]
	if inOld {
		f.OldSize = o.Size
	} else {
		f.Status = "added"
	}
	if inNew {
		f.NewSize = n.Size
	} else {
		f.Status = "removed"
	}
	f.OldLink, f.NewLink = o.Link, n.Link
	switch {
	case f.OldLink != "" || f.NewLink != "":
	case f.OldSize > MaxFileDiffSize || f.NewSize > MaxFileDiffSize:
		f.TooLarge = true
	case bytes.IndexByte(oldData, 0) >= 0 || bytes.IndexByte(newData, 0) >= 0:
		f.Binary = true
	default:
		f.Unified = UnifiedDiff(string(oldData), string(newData), 3)
	}
	return f
}

// Render prints the file diff like `diff -u` (or git for binaries), with
// the removed and added lines coloured when st is not nil. Paths, link
// targets and lines come from the host and are made visible; lines keep
// their tabs.
func (f FileDiff) Render(st *DiffStyles) string {
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
	case f.OldLink != "" || f.NewLink != "":
		fmt.Fprintf(&s, "%s: %s, %s -> %s\n", path, f.Status, linkOrFile(f.OldLink, f.OldSize), linkOrFile(f.NewLink, f.NewSize))
	case f.TooLarge:
		fmt.Fprintf(&s, "%s: %s, larger than %d KiB (old %s, new %s): not shown\n", path, f.Status,
			MaxFileDiffSize>>10, sizeOrAbsent(f.OldSize), sizeOrAbsent(f.NewSize))
	case f.Binary:
		fmt.Fprintf(&s, "Binary files %s and %s differ\n", a, b)
	default:
		s.WriteString(st.fileLine(fmt.Sprintf("--- %s\n+++ %s\n", a, b), 'h'))
		for _, line := range strings.SplitAfter(f.Unified, "\n") {
			if line != "" {
				s.WriteString(st.fileLine(termtext.VisibleLines(line), line[0]))
			}
		}
	}
	return s.String()
}

// linkOrFile describes one side of a changed link out of the store.
func linkOrFile(link string, size int64) string {
	if link != "" {
		return "link to " + termtext.Visible(link)
	}
	if size < 0 {
		return "absent"
	}
	return fmt.Sprintf("file of %d bytes", size)
}

func sizeOrAbsent(n int64) string {
	if n < 0 {
		return "absent"
	}
	return fmt.Sprintf("%d bytes", n)
}
