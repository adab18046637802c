package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// registry holds the Nix database records (nix-store --dump-db) of the
// union of several closures in this machine's store, so that each host's
// closure and registration come from two nix-store calls in all.
type registry struct {
	// records maps a store path to its dump-db record, trailing newline included.
	records map[string]string
	// refs maps a store path to its references.
	refs map[string][]string
}

// loadRegistry reads the records of the closures of systems.
func loadRegistry(ctx context.Context, systems []string) (*registry, error) {
	q, err := exec.CommandContext(ctx, "nix-store", append([]string{"-qR"}, systems...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("lab: closure of the lab systems: %w", err)
	}
	dump, err := exec.CommandContext(ctx, "nix-store", append([]string{"--dump-db"}, strings.Fields(string(q))...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("lab: nix-store --dump-db: %w", err)
	}
	return parseDumpDB(string(dump))
}

// parseDumpDB parses nix-store --dump-db output: per path the lines path,
// NAR hash, NAR size, deriver, reference count, references.
func parseDumpDB(s string) (*registry, error) {
	r := &registry{records: map[string]string{}, refs: map[string][]string{}}
	lines := strings.Split(s, "\n")
	for i := 0; i+4 < len(lines); {
		path := lines[i]
		n, err := strconv.Atoi(lines[i+4])
		if err != nil || !strings.HasPrefix(path, "/nix/store/") || i+5+n > len(lines) {
			return nil, fmt.Errorf("lab: nix-store --dump-db: bad record at line %d", i+1)
		}
		end := i + 5 + n
		r.records[path] = strings.Join(lines[i:end], "\n") + "\n"
		r.refs[path] = lines[i+5 : end]
		i = end
	}
	return r, nil
}

// closure returns the closure of path, sorted.
func (r *registry) closure(path string) ([]string, error) {
	seen := map[string]bool{}
	stack := []string{path}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[p] {
			continue
		}
		if _, ok := r.records[p]; !ok {
			return nil, fmt.Errorf("store path %s is not in the registry", p)
		}
		seen[p] = true
		stack = append(stack, r.refs[p]...)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// dump returns the dump-db text of paths, for nix-store --load-db.
func (r *registry) dump(paths []string) string {
	var b strings.Builder
	for _, p := range paths {
		b.WriteString(r.records[p])
	}
	return b.String()
}

// storeMtime is the modification time Nix gives everything in the store.
var storeMtime = time.Unix(1, 0)

// linkTree recreates the store path src at dst: directories and symlinks
// anew, regular files hard-linked (copied when dst is on another file
// system). An existing dst is left alone.
func linkTree(src, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		to := dst + strings.TrimPrefix(p, src)
		switch {
		case fi.IsDir():
			return os.Mkdir(to, 0o555)
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		default:
			if err := os.Link(p, to); err == nil || !isCrossDevice(err) {
				return err
			}
			return copyFile(p, to, fi)
		}
	})
}

// isCrossDevice reports a hard link refused because of different file systems.
func isCrossDevice(err error) bool {
	le, ok := err.(*os.LinkError)
	return ok && le.Err == syscall.EXDEV
}

// copyFile copies a store file with its mode and the store's mtime.
func copyFile(src, dst string, fi os.FileInfo) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(dst, storeMtime, storeMtime)
}
