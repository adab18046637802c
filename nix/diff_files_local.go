package nix

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"nixdeck/internal/limit"
	"os"
	"slices"
	"strings"
	"syscall"
)

// LocalTree is the etc/ directory of a system in the local store (the
// string is the system's store path).
type LocalTree string

// List walks the system's etc/ by the rule of diff_files_walk.go and
// hashes every file it reaches with SHA-256. Every access goes through an
// os.Root on the store, so even a store changing under the walk cannot
// lead it to a file outside.
func (t LocalTree) List(ctx context.Context) (map[string]FileSum, error) {
	root, err := os.OpenRoot(etcStoreDir)
	if err != nil {
		return nil, fmt.Errorf("list %s/etc: %w", t, err)
	}
	defer root.Close()
	w := newEtcWalker(localStore{ctx: ctx, root: root})
	if err := w.walkSystem(string(t)); err != nil {
		return nil, fmt.Errorf("list %s/etc: %w", t, err)
	}
	return w.out, nil
}

// Read reads files List found (by FileSum.Path), each at most
// MaxFileDiffSize bytes.
func (t LocalTree) Read(ctx context.Context, paths []string) (map[string][]byte, error) {
	root, err := os.OpenRoot(etcStoreDir)
	if err != nil {
		return nil, fmt.Errorf("read files under %s/etc: %w", t, err)
	}
	defer root.Close()
	s := localStore{ctx: ctx, root: root}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		f, err := s.open(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		b, err := io.ReadAll(io.LimitReader(f, MaxFileDiffSize+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		if len(b) > MaxFileDiffSize {
			return nil, fmt.Errorf("read %s: larger than %s", p, limit.Text(MaxFileDiffSize))
		}
		out[p] = b
	}
	return out, nil
}

// localStore answers the walk from this machine's store.
type localStore struct {
	ctx  context.Context
	root *os.Root
}

// rel turns a canonical store path into a name inside the root.
func (s localStore) rel(p string) (string, error) {
	r, ok := strings.CutPrefix(p, etcStoreDir+"/")
	if !ok {
		return "", fmt.Errorf("%s is not in %s", p, etcStoreDir)
	}
	return r, nil
}

func (s localStore) lstat(p string, _ bool) (node, error) {
	if err := s.ctx.Err(); err != nil {
		return node{}, err
	}
	r, err := s.rel(p)
	if err != nil {
		return node{}, err
	}
	fi, err := s.root.Lstat(r)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return node{}, errMissing
	case err != nil:
		return node{}, err
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return node{typ: 'f', size: fi.Size()}, nil
	case m.IsDir():
		return node{typ: 'd'}, nil
	case m&fs.ModeSymlink != 0:
		t, err := s.root.Readlink(r)
		if err != nil {
			return node{}, err
		}
		return node{typ: 'l', target: t}, nil
	}
	return node{typ: 'o'}, nil
}

func (s localStore) readDir(p string) ([]string, error) {
	r, err := s.rel(p)
	if err != nil {
		return nil, err
	}
	f, err := s.root.Open(r)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	for {
		// In batches, so a huge directory fails at the cap instead of
		// being read whole first.
		batch, err := f.Readdirnames(1024)
		names = append(names, batch...)
		if len(names) > MaxEtcEntries {
			return nil, fmt.Errorf("%s: more than %d entries", p, MaxEtcEntries)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(names)
	return names, nil
}

func (s localStore) hash(p string) ([32]byte, error) {
	f, err := s.open(p)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{s.ctx, f}); err != nil {
		return [32]byte{}, fmt.Errorf("hash %s: %w", p, err)
	}
	return [32]byte(h.Sum(nil)), nil
}

// open opens a regular file without following a final link and without
// blocking (a FIFO put in its place would otherwise hang the open).
func (s localStore) open(p string) (*os.File, error) {
	r, err := s.rel(p)
	if err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(r, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return f, nil
}

// ctxReader stops a long read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
