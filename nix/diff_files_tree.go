package nix

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LocalTree is the etc/ directory of a system in the local store.
type LocalTree string

// List walks root/etc, following symlinks (NixOS's etc is a tree of links
// into the store), and checksums every regular file like cksum(1). Links
// to absolute paths outside the store are listed by target, not followed,
// except inside a directory reached through a link (as listScript does).
func (t LocalTree) List(ctx context.Context) (map[string]FileSum, error) {
	out := map[string]FileSum{}
	root := filepath.Join(string(t), "etc")
	if _, err := os.Stat(root); os.IsNotExist(err) {
		return out, nil
	}
	return out, walkFollow(ctx, root, "", 0, false, out)
}

func walkFollow(ctx context.Context, dir, rel string, depth int, viaLink bool, out map[string]FileSum) error {
	if depth > 40 {
		return fmt.Errorf("%s: too deeply nested (symlink loop?)", dir)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p, r := filepath.Join(dir, e.Name()), filepath.Join(rel, e.Name())
		isLink := e.Type()&os.ModeSymlink != 0
		if isLink && !viaLink {
			if target, err := os.Readlink(p); err == nil && outOfStoreLink(target) {
				out[r] = FileSum{Link: target}
				continue
			}
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue // dangling link: find -L skips it from the listing too
		}
		switch {
		case fi.IsDir():
			if err := walkFollow(ctx, p, r, depth+1, viaLink || isLink, out); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			sum, err := cksumFile(p)
			if err != nil {
				return err
			}
			out[r] = sum
		}
	}
	return nil
}

// Read reads the files from root/etc.
func (t LocalTree) Read(ctx context.Context, paths []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join(string(t), "etc", p))
		if err != nil {
			return nil, err
		}
		out[p] = b
	}
	return out, nil
}

// RemoteTree is the etc/ directory of the system Root on a host.
type RemoteTree struct {
	// Runner runs commands on the host (one per List or Read).
	Runner Runner
	// Root is the system's store path (or /run/current-system).
	Root string
}

// listScript prints "CRC SIZE ./path" for every file under $1/etc, then
// "#link ./path<TAB>target" for every link to an absolute path outside the
// store $2 that is reachable without following a directory link (GNU
// find, as on every NixOS host); LocalTree.List applies the same rules.
const listScript = `cd "$1/etc" 2>/dev/null || exit 0; find -L . -type f -exec cksum {} +
find . -type l -lname '/*' ! -lname "$2/*" -printf '#link %p\t%l\n'`

// readScript prints, per file, a "SIZE PATH" line and then exactly SIZE bytes.
const readScript = `cd "$1/etc" || exit 1; shift
for f in "$@"; do printf '%s %s\n' "$(wc -c < "$f" | tr -d ' ')" "$f"; cat "$f"; done`

// List runs listScript on the host (one round trip).
func (t RemoteTree) List(ctx context.Context) (map[string]FileSum, error) {
	var out bytes.Buffer
	if err := t.Runner.Run(ctx, Cmd{Argv: []string{"sh", "-c", listScript, "sh", t.Root, etcStoreDir}, Stdout: &out}); err != nil {
		return nil, fmt.Errorf("list %s/etc: %w", t.Root, err)
	}
	sums := map[string]FileSum{}
	sc := bufio.NewScanner(&out)
	var links []string
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "#link "); ok {
			links = append(links, l)
			continue
		}
		f := strings.SplitN(sc.Text(), " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("list %s/etc: bad cksum line %q", t.Root, sc.Text())
		}
		crc, err1 := strconv.ParseUint(f[0], 10, 32)
		size, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("list %s/etc: bad cksum line %q", t.Root, sc.Text())
		}
		sums[strings.TrimPrefix(f[2], "./")] = FileSum{CRC: uint32(crc), Size: size}
	}
	// find -L followed the links out of the store: forget what it found
	// there (the host's files) and keep the links themselves.
	for _, l := range links {
		p, target, ok := strings.Cut(l, "\t")
		if !ok {
			return nil, fmt.Errorf("list %s/etc: bad link line %q", t.Root, l)
		}
		p = strings.TrimPrefix(p, "./")
		for q := range sums {
			if q == p || strings.HasPrefix(q, p+"/") {
				delete(sums, q)
			}
		}
		sums[p] = FileSum{Link: target}
	}
	return sums, sc.Err()
}

// Read fetches the files in one round trip.
func (t RemoteTree) Read(ctx context.Context, paths []string) (map[string][]byte, error) {
	var out bytes.Buffer
	argv := append([]string{"sh", "-c", readScript, "sh", t.Root}, paths...)
	if err := t.Runner.Run(ctx, Cmd{Argv: argv, Stdout: &out}); err != nil {
		return nil, fmt.Errorf("read files under %s/etc: %w", t.Root, err)
	}
	files := make(map[string][]byte, len(paths))
	r := bufio.NewReader(&out)
	for range paths {
		head, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("read files under %s/etc: truncated output", t.Root)
		}
		size, name, _ := strings.Cut(strings.TrimSuffix(head, "\n"), " ")
		n, err := strconv.Atoi(size)
		if err != nil {
			return nil, fmt.Errorf("read files under %s/etc: bad header %q", t.Root, head)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("read %s/etc/%s: truncated output", t.Root, name)
		}
		files[name] = b
	}
	return files, nil
}
