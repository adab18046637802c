package nix

import (
	"bufio"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"nixdeck/internal/proc"
)

// servedInfo is what a fake `nix-store --serve` says about one store path.
type servedInfo struct {
	refs    []string
	narSize int64
}

// fakeServe is a host (or this machine) whose `nix-store --serve`
// answers from a table of store paths, speaking the protocol the way Nix
// does; its fields make it misbehave. For ClosureCmd it first prints the
// script's lines (header).
type fakeServe struct {
	t      testing.TB
	header string
	store  map[string]servedInfo
	// greeting and version replace the server's greeting when set.
	greeting, version uint64
	// closureReply and infoReply, when set, replace the replies.
	closureReply func(roots []string) []string
	infoReply    func(w *serveWriter, paths []string)
	// raw, when set, is sent after the header instead of any reply,
	// and flood after it without end.
	raw, flood []byte
	// err ends the command once the conversation is over.
	err error
	// stuck, when set, is closed as the first request arrives, and the
	// command then hangs until its context ends.
	stuck chan struct{}

	runs, closureQueries, infoQueries atomic.Int32
	mu                                sync.Mutex
	asked                             []string // every path asked about
}

// Run implements Runner for ClosureCmd and localServeArgv.
func (f *fakeServe) Run(ctx context.Context, c Cmd) error {
	f.runs.Add(1)
	if !slices.Equal(c.Argv, localServeArgv) && (len(c.Argv) != 5 || c.Argv[2] != closureScript) {
		f.t.Errorf("fake serve: unexpected command %s", proc.Format(c.Argv))
		return &ExitError{Argv: c.Argv, Code: 127}
	}
	out := bufio.NewWriter(c.Stdout)
	defer out.Flush()
	out.WriteString(f.header)
	out.Flush() // as sh's echo does
	if f.raw != nil {
		out.Write(f.raw)
		for f.flood != nil && ctx.Err() == nil {
			if _, err := out.Write(f.flood); err != nil {
				return err
			}
		}
		return f.err
	}
	in := serveReader{bufio.NewReader(c.Stdin)}
	if magic, err := in.num(); err != nil || magic != serveMagic1 {
		return &ExitError{Argv: c.Argv, Code: 1, Stderr: "error: protocol mismatch"}
	}
	var hello serveWriter
	hello.num(orDefault(f.greeting, serveMagic2))
	hello.num(orDefault(f.version, 0x207))
	out.Write(hello.buf)
	out.Flush()
	if v, err := in.num(); err != nil || v != serveQueryVersion {
		f.t.Errorf("fake serve: client version %#x, %v", v, err)
	}
	for {
		cmd, err := in.num()
		if err != nil {
			return f.err // the client closed stdin: the end
		}
		if f.stuck != nil {
			close(f.stuck)
			<-ctx.Done()
			return ctx.Err()
		}
		var w serveWriter
		switch cmd {
		case serveQueryClosure:
			f.closureQueries.Add(1)
			in.num() // include outputs
			roots := f.readPaths(in)
			if f.closureReply != nil {
				w.strs(f.closureReply(roots))
				break
			}
			c := &Closure{Paths: map[string]int64{}}
			for _, r := range roots {
				walkFake(f.store, r, c.Paths)
			}
			w.strs(sortedKeys(c.Paths))
		case serveQueryInfos:
			f.infoQueries.Add(1)
			paths := f.readPaths(in)
			f.mu.Lock()
			f.asked = append(f.asked, paths...)
			f.mu.Unlock()
			if f.infoReply != nil {
				f.infoReply(&w, paths)
				break
			}
			for _, p := range paths {
				if info, ok := f.store[p]; ok {
					w.str(p)
					w.str("/nix/store/00000000000000000000000000000000-x.drv")
					w.strs(info.refs)
					w.num(uint64(info.narSize))
					w.num(uint64(info.narSize))
				}
			}
			w.str("")
		default:
			f.t.Errorf("fake serve: command %d", cmd)
			return &ExitError{Argv: c.Argv, Code: 1}
		}
		out.Write(w.buf)
		if err := out.Flush(); err != nil {
			return err
		}
	}
}

func (f *fakeServe) readPaths(in serveReader) []string {
	paths, err := in.strs(maxServeSet)
	if err != nil {
		f.t.Errorf("fake serve: %v", err)
	}
	return paths
}

// walkFake adds p's closure in store to into, with sizes.
func walkFake(store map[string]servedInfo, p string, into map[string]int64) {
	info, ok := store[p]
	if _, seen := into[p]; seen || !ok {
		return
	}
	into[p] = info.narSize
	for _, r := range info.refs {
		walkFake(store, r, into)
	}
}

func orDefault(v, def uint64) uint64 {
	if v == 0 {
		return def
	}
	return v
}
