package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"nixdeck/nix"
)

// registry holds the Nix database records (nix-store --dump-db) of the
// union of several closures in this machine's store, so that each host's
// closure and registration come from two nix-store calls in all. The nix
// package runs and parses them, as it does for a copy.
type registry struct {
	// infos maps a store path to its record.
	infos map[string]nix.PathInfo
}

// loadRegistry reads the records of the closures of systems.
func loadRegistry(ctx context.Context, systems []string) (*registry, error) {
	local := nix.LocalRunner{}
	paths, err := nix.Requisites(ctx, local, systems)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	infos, err := nix.PathInfos(ctx, local, paths)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return newRegistry(infos), nil
}

// newRegistry indexes infos by path.
func newRegistry(infos []nix.PathInfo) *registry {
	r := &registry{infos: make(map[string]nix.PathInfo, len(infos))}
	for _, i := range infos {
		r.infos[i.Path] = i
	}
	return r
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
		info, ok := r.infos[p]
		if !ok {
			return nil, fmt.Errorf("store path %s is not in the registry", p)
		}
		seen[p] = true
		stack = append(stack, info.References...)
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// dump returns the records of paths, for nix-store --load-db.
func (r *registry) dump(paths []string) string {
	infos := make([]nix.PathInfo, len(paths))
	for i, p := range paths {
		infos[i] = r.infos[p]
	}
	return nix.RegistrationText(infos)
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
