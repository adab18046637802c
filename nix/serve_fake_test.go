package nix

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"nixdeck/internal/proc"
)

// fakeStore is an in-memory Nix store that answers `nix-store --serve`
// and `nix-store --serve --write` the way Nix 2.8 does (serve.go), and
// checks what it is sent as Nix would: the greeting, the NAR's hash and
// size, that a path's references are valid before it is added. Commands
// other than the serve ones go to cmds, a strict fakeRunner.
type fakeStore struct {
	t    testing.TB
	cmds *fakeRunner

	mu    sync.Mutex
	paths map[string]fakePath // valid paths
	// cache holds what the host's binary caches could substitute.
	cache map[string]fakePath
	added []string // paths added through --serve --write, in order
	// locked are the paths queried with lock set.
	locked []string
	// failAdding, when set, is the path whose addition fails (as a full
	// disk would); dropAfter, when > 0, is how many bytes of stdin are read
	// before the connection is lost.
	failAdding string
	dropAfter  int64
	// stalled, when set, makes adding paths wait for the context to end
	// (a host that stopped reading); it is closed when that begins.
	stalled chan struct{}
	serves  int
	// substStderr is what the host's Nix writes to stderr when a
	// substituting query leaves some path missing (see subst.go).
	substStderr string
	// substFails makes such a query end the session (exit 1), as Nix does
	// when a cache it knew cannot be reached.
	substFails bool
	// serving counts the --serve --write sessions running now.
	serving int
}

// fakePath is one store path: its NAR and its record.
type fakePath struct {
	nar  []byte
	info PathInfo
}

func newFakeStore(t testing.TB) *fakeStore {
	return &fakeStore{t: t, cmds: newFakeRunner(t), paths: map[string]fakePath{}, cache: map[string]fakePath{}}
}

// testNAR is the NAR of a regular file holding contents.
func testNAR(contents string) []byte {
	var b []byte
	for _, s := range []string{"nix-archive-1", "(", "type", "regular", "contents", contents, ")"} {
		b = append(b, wireBytes(s)...)
	}
	return b
}

// fakePathOf makes the record of path holding contents.
func fakePathOf(path, contents string, refs ...string) fakePath {
	nar := testNAR(contents)
	sum := sha256.Sum256(nar)
	return fakePath{nar: nar, info: PathInfo{Path: path, NarHash: hex.EncodeToString(sum[:]), NarSize: int64(len(nar)), References: refs}}
}

// add makes paths valid in the store.
func (s *fakeStore) add(ps ...fakePath) *fakeStore {
	for _, p := range ps {
		s.paths[p.info.Path] = p
	}
	return s
}

// dumpDB renders `nix-store --dump-db` output for paths of this store.
func (s *fakeStore) dumpDB(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		i := s.paths[p].info
		fmt.Fprintf(&b, "%s\n%s\n%d\n%s\n%d\n", i.Path, i.NarHash, i.NarSize, i.Deriver, len(i.References))
		for _, r := range i.References {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}

// has reports whether path is valid.
func (s *fakeStore) has(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.paths[path]
	return ok
}

// Run implements Runner.
func (s *fakeStore) Run(ctx context.Context, c Cmd) error {
	write := slices.Equal(c.Argv, serveWriteArgv)
	if !write && !slices.Equal(c.Argv, localServeArgv) {
		return s.cmds.Run(ctx, c)
	}
	if c.Privileged != write {
		s.t.Errorf("fake store: %s: Privileged = %v", proc.Format(c.Argv), c.Privileged)
	}
	s.mu.Lock()
	s.serves++
	if write {
		s.serving++
		defer func() { s.mu.Lock(); s.serving--; s.mu.Unlock() }()
	}
	s.mu.Unlock()
	in := c.Stdin
	if s.dropAfter > 0 {
		in = io.LimitReader(in, s.dropAfter)
	}
	err := s.serve(ctx, serveReader{bufio.NewReader(in)}, c.Stdout, c.Stderr, write)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err == nil, errors.Is(err, io.EOF) && s.dropAfter == 0:
		return nil
	case s.dropAfter > 0:
		return fmt.Errorf("host: nix-store --serve --write: %w", ErrConnectionLost)
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	return &ExitError{Argv: c.Argv, Code: 1, Stderr: "error: " + err.Error()}
}

// serve is opServe's loop.
func (s *fakeStore) serve(ctx context.Context, in serveReader, out, errw io.Writer, write bool) error {
	num := func(n uint64) { out.Write(binary.LittleEndian.AppendUint64(nil, n)) }
	magic, err := in.num()
	if err != nil {
		return err
	}
	if magic != serveMagic1 {
		return errors.New("protocol mismatch")
	}
	num(serveMagic2)
	num(2<<8 | 7)
	if _, err := in.num(); err != nil {
		return err
	}
	for {
		cmd, err := in.num()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch cmd {
		case cmdQueryValidPaths:
			err = s.queryValid(in, out, errw, write)
		case cmdDumpStorePath:
			var p string
			if p, err = in.str(); err == nil {
				s.mu.Lock()
				fp, ok := s.paths[p]
				s.mu.Unlock()
				if !ok {
					return fmt.Errorf("path '%s' is not valid", p)
				}
				_, err = out.Write(fp.nar)
			}
		case cmdAddToStoreNar:
			if !write {
				return errors.New("importing paths is not allowed")
			}
			if s.stalled != nil {
				close(s.stalled)
				<-ctx.Done()
				return ctx.Err()
			}
			if err = s.addToStore(in); err == nil {
				num(1)
			}
		default:
			return fmt.Errorf("unknown serve command %d", cmd)
		}
		if err != nil {
			return err
		}
	}
}

func (s *fakeStore) queryValid(in serveReader, out, errw io.Writer, write bool) error {
	lock, err := in.num()
	if err != nil {
		return err
	}
	subst, err := in.num()
	if err != nil {
		return err
	}
	paths, err := in.strs(maxServeSet)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if lock == 1 && write {
		s.locked = append(s.locked, paths...)
	}
	var valid []string
	for _, p := range paths {
		if _, ok := s.paths[p]; !ok && subst == 1 && write {
			if fp, ok := s.cache[p]; ok {
				s.paths[p] = fp
			}
		}
		if _, ok := s.paths[p]; ok {
			valid = append(valid, p)
		} else if subst == 1 && write && s.substStderr != "" && errw != nil {
			io.WriteString(errw, s.substStderr)
			if s.substFails {
				return &ExitError{Argv: serveWriteArgv, Code: 1, Stderr: s.substStderr}
			}
		}
	}
	var w serveWriter
	w.strs(valid)
	_, err = out.Write(w.buf)
	return err
}

func (s *fakeStore) addToStore(in serveReader) error {
	var info PathInfo
	var err error
	read := func(dst *string) {
		if err == nil {
			*dst, err = in.str()
		}
	}
	read(&info.Path)
	read(&info.Deriver)
	read(&info.NarHash)
	if err == nil {
		info.References, err = in.strs(maxServeSet)
	}
	var nums [4]uint64 // registration time, NAR size, ultimate, signature count
	for i := range nums {
		if err == nil {
			nums[i], err = in.num()
		}
	}
	var ca string
	read(&ca)
	if err != nil {
		return err
	}
	info.NarSize = int64(nums[1])
	if nums[3] != 0 || ca != "" || nums[2] != 0 {
		return fmt.Errorf("unexpected signatures, content address or ultimate for %s", info.Path)
	}
	nar := make([]byte, info.NarSize)
	if _, err := io.ReadFull(in.r, nar); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if info.Path == s.failAdding {
		return errors.New("writing to file: No space left on device")
	}
	sum := sha256.Sum256(nar)
	if got := hex.EncodeToString(sum[:]); got != info.NarHash {
		return fmt.Errorf("hash mismatch importing path '%s';\n  specified: %s\n  got:       %s", info.Path, info.NarHash, got)
	}
	for _, r := range info.References {
		if _, ok := s.paths[r]; !ok && r != info.Path {
			return fmt.Errorf("cannot add path '%s' because it references '%s', which is not valid", info.Path, r)
		}
	}
	s.paths[info.Path] = fakePath{nar: nar, info: info}
	s.added = append(s.added, info.Path)
	return nil
}
