package nix

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"nixdeck/internal/limit"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Caps on what a host may send for one etc/ tree (README, "/etc diffs").
const (
	// MaxEtcListing is how many bytes a host may send describing one
	// system's etc/ (all round trips together).
	MaxEtcListing = 32 << 20
	// maxEtcFacts is how many paths such a description may name.
	maxEtcFacts = 4 * MaxEtcEntries
	// maxEtcRounds is how many round trips one listing may take; links
	// that the host script does not chase itself (relative ones leaving
	// their directory) cost one or two more each.
	maxEtcRounds = 8
	// maxPathLen is the longest path or link target accepted (PATH_MAX).
	maxPathLen = 4096
)

// RemoteTree is the etc/ directory of the system Root (a store path) on a host.
type RemoteTree struct {
	// Runner runs commands on the host: one per round trip of List (one
	// for a usual NixOS system), one per Read.
	Runner Runner
	// Root is the system's store path.
	Root string
}

// List describes the system's etc/ through listScript and walks it by the
// rule of diff_files_walk.go, asking the host again for what its script
// did not send.
func (t RemoteTree) List(ctx context.Context) (map[string]FileSum, error) {
	s := newRemoteStore(ctx, t.Runner)
	s.want["l"+t.Root+"/etc"] = true
	for round := 1; ; round++ {
		if err := s.fetch(); err != nil {
			return nil, fmt.Errorf("list %s/etc: %w", t.Root, err)
		}
		w := newEtcWalker(s)
		if err := w.walkSystem(t.Root); err != nil {
			return nil, fmt.Errorf("list %s/etc: %w", t.Root, err)
		}
		if !w.pending {
			return w.out, nil
		}
		if round == maxEtcRounds {
			return nil, fmt.Errorf("list %s/etc: links need more than %d round trips to follow", t.Root, maxEtcRounds)
		}
	}
}

// remoteStore is what a host has described of its store so far.
type remoteStore struct {
	ctx      context.Context
	runner   Runner
	nodes    map[string]node
	missing  map[string]bool
	sums     map[string][32]byte
	listed   map[string]bool            // directories whose whole subtree was sent
	kids     map[string]map[string]bool // names seen under each directory
	asked    map[string]bool            // requests sent ("l" or "s" + path)
	want     map[string]bool            // requests for the next round trip
	received int
}

func newRemoteStore(ctx context.Context, r Runner) *remoteStore {
	return &remoteStore{ctx: ctx, runner: r, nodes: map[string]node{}, missing: map[string]bool{},
		sums: map[string][32]byte{}, listed: map[string]bool{}, kids: map[string]map[string]bool{},
		asked: map[string]bool{}, want: map[string]bool{}}
}

func (s *remoteStore) lstat(p string, last bool) (node, error) {
	if n, ok := s.nodes[p]; ok {
		return n, nil
	}
	// A name a complete listing of its directory lacks is not there.
	if dir := path.Dir(p); s.missing[p] || s.listed[dir] && !s.kids[dir][path.Base(p)] {
		return node{}, errMissing
	}
	if last {
		return node{}, s.ask("l", p)
	}
	return node{}, s.ask("s", p)
}

func (s *remoteStore) readDir(p string) ([]string, error) {
	if !s.listed[p] {
		return nil, s.ask("l", p)
	}
	names := make([]string, 0, len(s.kids[p]))
	for name := range s.kids[p] {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

func (s *remoteStore) hash(p string) ([32]byte, error) {
	if sum, ok := s.sums[p]; ok {
		return sum, nil
	}
	return [32]byte{}, s.ask("l", p)
}

// ask queues a request for the next round trip; a request already
// answered without the facts asked for is an error, not another round.
func (s *remoteStore) ask(mode, p string) error {
	if s.asked[mode+p] {
		return fmt.Errorf("the host did not describe %s", p)
	}
	s.want[mode+p] = true
	return errNeed
}

// fetch sends the queued requests in one round trip and records the answer.
func (s *remoteStore) fetch() error {
	var req bytes.Buffer
	for r := range s.want {
		s.asked[r] = true
		req.WriteString(r)
		req.WriteByte(0)
	}
	clear(s.want)
	c := Cmd{Argv: []string{"sh", "-c", listScript, "sh", etcStoreDir, describeSh}, Stdin: &req}
	out, err := runLimited(s.ctx, s.runner, c, MaxEtcListing-s.received)
	if errors.Is(err, errOutputCap) {
		return capError(MaxEtcListing, "listing etc/")
	}
	if err != nil {
		return err
	}
	s.received += len(out)
	return s.parse(out)
}

// parse records listScript's output, checking every field.
func (s *remoteStore) parse(b []byte) error {
	for len(b) > 0 {
		typ, rest, ok := bytes.Cut(b, []byte{0})
		if !ok {
			return errors.New("truncated listing")
		}
		if len(typ) > 2 {
			if err := s.parseSum(typ); err != nil {
				return err
			}
			b = rest
			continue
		}
		var f [3][]byte
		for i := range f {
			if f[i], rest, ok = bytes.Cut(rest, []byte{0}); !ok {
				return errors.New("truncated listing")
			}
		}
		b = rest
		if err := s.record(string(typ), string(f[0]), string(f[1]), string(f[2])); err != nil {
			return err
		}
		if len(s.nodes)+len(s.missing) > maxEtcFacts {
			return fmt.Errorf("sent more than %d paths listing etc/", maxEtcFacts)
		}
	}
	return nil
}

func (s *remoteStore) record(typ, p, size, target string) error {
	if !s.inStore(p) {
		return fmt.Errorf("listing names %q, not a path in %s", p, etcStoreDir)
	}
	stat := len(typ) == 2 && typ[0] == 'S'
	if stat {
		typ = typ[1:]
	}
	var n node
	switch typ {
	case "P":
		if _, ok := s.nodes[p]; !ok {
			s.nodes[p] = node{typ: 'd'}
		}
		return nil
	case "m":
		s.missing[p] = true
		return nil
	case "E":
		return fmt.Errorf("could not list %s", p)
	case "f":
		v, err := strconv.ParseInt(size, 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("listing gives %s the size %q", p, size)
		}
		n = node{typ: 'f', size: v}
	case "d":
		n = node{typ: 'd'}
		if !stat {
			s.listed[p] = true
		}
	case "l":
		if target == "" || len(target) > maxPathLen {
			return fmt.Errorf("listing gives the link %s a target of %d bytes", p, len(target))
		}
		n = node{typ: 'l', target: target}
	case "b", "c", "p", "s", "D", "U":
		n = node{typ: 'o'}
	default:
		return fmt.Errorf("listing has a record of type %q", typ)
	}
	s.nodes[p] = n
	if !stat {
		dir := path.Dir(p)
		if s.kids[dir] == nil {
			s.kids[dir] = map[string]bool{}
		}
		s.kids[dir][path.Base(p)] = true
	}
	return nil
}

// parseSum records one "HEX  PATH" line of sha256sum -z.
func (s *remoteStore) parseSum(rec []byte) error {
	var sum [32]byte
	if len(rec) < 67 || rec[64] != ' ' || rec[65] != ' ' && rec[65] != '*' {
		return fmt.Errorf("listing has a bad checksum record %q", truncateForError(rec))
	}
	if _, err := hex.Decode(sum[:], rec[:64]); err != nil {
		return fmt.Errorf("listing has a bad checksum record %q", truncateForError(rec))
	}
	p := string(rec[66:])
	if !s.inStore(p) {
		return fmt.Errorf("listing names %q, not a path in %s", p, etcStoreDir)
	}
	s.sums[p] = sum
	return nil
}

// inStore checks a path the host sent: absolute, clean, in the store.
func (s *remoteStore) inStore(p string) bool {
	return len(p) <= maxPathLen && strings.HasPrefix(p, etcStoreDir+"/") && path.Clean(p) == p
}

func truncateForError(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// Read fetches files List found (by FileSum.Path) in one round trip; each
// must be a regular file of at most MaxFileDiffSize bytes, MaxEtcRead in all.
func (t RemoteTree) Read(ctx context.Context, paths []string) (map[string][]byte, error) {
	var req bytes.Buffer
	for _, p := range paths {
		req.WriteString(p)
		req.WriteByte(0)
	}
	c := Cmd{Argv: []string{"sh", "-c", readScript, "sh", etcStoreDir, readSh}, Stdin: &req}
	limit := min(MaxEtcRead, len(paths)*MaxFileDiffSize) + 24*len(paths)
	out, err := runLimited(ctx, t.Runner, c, limit)
	if errors.Is(err, errOutputCap) {
		return nil, capError(limit, "reading files under etc/")
	}
	if err != nil {
		return nil, fmt.Errorf("read files under %s/etc: %w", t.Root, err)
	}
	files, err := parseRead(out, paths)
	if err != nil {
		return nil, fmt.Errorf("read files under %s/etc: %w", t.Root, err)
	}
	return files, nil
}

// parseRead splits readSh's output: per path a size, a NUL and the bytes.
func parseRead(b []byte, paths []string) (map[string][]byte, error) {
	files := make(map[string][]byte, len(paths))
	for _, p := range paths {
		head, rest, ok := bytes.Cut(b, []byte{0})
		if !ok || len(head) > 20 {
			return nil, fmt.Errorf("%s: truncated output", p)
		}
		if string(head) == "-" {
			return nil, fmt.Errorf("%s is not a regular file in %s", p, etcStoreDir)
		}
		n, err := strconv.Atoi(string(head))
		if err != nil || n < 0 || n > MaxFileDiffSize {
			return nil, fmt.Errorf("%s: bad size %q (at most %s)", p, head, limit.Text(MaxFileDiffSize))
		}
		if len(rest) < n {
			return nil, fmt.Errorf("%s: truncated output", p)
		}
		files[p], b = rest[:n:n], rest[n:]
	}
	if len(b) > 0 {
		return nil, fmt.Errorf("%d bytes after the last file", len(b))
	}
	return files, nil
}
