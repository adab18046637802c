package nix

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// manyFixture is this machine's store and one store per host, with each
// host's last progress report.
type manyFixture struct {
	local   *fakeStore
	hosts   []*fakeStore
	targets []CopyTarget
	last    []CopyProgress
}

// newManyFixture makes n hosts holding pTop's leaf (see testStores).
func newManyFixture(t *testing.T, n int) *manyFixture {
	local, _ := testStores(t)
	f := &manyFixture{local: local, last: make([]CopyProgress, n)}
	for i := range n {
		h := newFakeStore(t).add(local.paths[pLeaf])
		f.hosts = append(f.hosts, h)
		f.targets = append(f.targets, CopyTarget{Runner: h, Progress: func(p CopyProgress) { f.last[i] = p }})
	}
	return f
}

func (f *manyFixture) copy() []CopyOutcome {
	return CopyMany(context.Background(), f.local, f.targets, CopyRequest{Paths: []string{pTop}})
}

// TestCopyManySharesOneStreamPerMissingSet: two hosts lacking the same
// paths get one stream between them, a host lacking other paths its
// own, a host lacking nothing nothing; the closure and the records are
// asked for once.
func TestCopyManySharesOneStreamPerMissingSet(t *testing.T) {
	f := newManyFixture(t, 4)
	f.hosts[1].add(f.local.paths[pMid])
	f.hosts[3].add(f.local.paths[pMid], f.local.paths[pTop])
	out := f.copy()
	want := [][]string{{pMid, pTop}, {pTop}, {pMid, pTop}, nil}
	for i, w := range want {
		o, size := out[i], sizeOf(f.local, w...)
		if o.Err != nil || o.Closure != 3 || !slices.Equal(o.Missing, w) || o.Bytes != size || !slices.Equal(f.hosts[i].added, w) {
			t.Errorf("host %d: %+v, added %v; want %v (%d bytes)", i, o, f.hosts[i].added, w, size)
		}
		if f.last[i] != (CopyProgress{PathsDone: len(w), PathsTotal: len(w), BytesDone: size, BytesTotal: size}) {
			t.Errorf("host %d: last progress %+v", i, f.last[i])
		}
	}
	if f.local.serves != 2 {
		t.Errorf("this machine's store was read %d times, want once per missing set (2)", f.local.serves)
	}
}

// TestCopyManyHostFailsMidStream: a host whose connection drops in the
// middle of the stream leaves it with its error; the others get it all.
func TestCopyManyHostFailsMidStream(t *testing.T) {
	f := newManyFixture(t, 3)
	// Past the greeting and the check, into the first path.
	f.hosts[1].dropAfter = int64(len(greeting(serveVersion))+len(queryValidRequest([]string{pLeaf, pMid, pTop}, true, false))) + 100
	out := f.copy()
	for _, i := range []int{0, 2} {
		if out[i].Err != nil || !slices.Equal(f.hosts[i].added, []string{pMid, pTop}) || f.last[i].PathsDone != 2 {
			t.Errorf("host %d: %+v, added %v, last progress %+v; want both paths", i, out[i], f.hosts[i].added, f.last[i])
		}
	}
	if err := out[1].Err; !errors.Is(err, ErrConnectionLost) || !strings.HasPrefix(err.Error(), "import 2 paths: host: nix-store --serve --write: connection lost") {
		t.Errorf("host 1: error %v, want its lost connection", err)
	}
	if len(f.hosts[1].added) != 0 || f.last[1].PathsDone != 0 {
		t.Errorf("host 1 added %v, last progress %+v", f.hosts[1].added, f.last[1])
	}
}

// TestCopyManyStopsWhenNoHostIsLeft: when every host failed, reading
// this machine's store stops and each host has its own error.
func TestCopyManyStopsWhenNoHostIsLeft(t *testing.T) {
	f := newManyFixture(t, 2)
	for _, h := range f.hosts {
		h.failAdding = pMid
	}
	done := make(chan []CopyOutcome)
	go func() { done <- f.copy() }()
	var out []CopyOutcome
	select {
	case out = <-done:
	case <-time.After(time.Minute): // only bounds a broken run
		t.Fatal("CopyMany still running a minute after every host failed")
	}
	for i, o := range out {
		var ee *ExitError
		if !errors.As(o.Err, &ee) || !strings.Contains(o.Err.Error(), "No space left on device") {
			t.Errorf("host %d: error %v, want its own failure", i, o.Err)
		}
	}
}

// TestCopyManyFailuresStayWithTheirHost: a host whose check fails gets
// that error alone; a path the hosts reject fails only the hosts of its
// stream.
func TestCopyManyFailuresStayWithTheirHost(t *testing.T) {
	f := newManyFixture(t, 3)
	f.targets[0].Runner = runnerFunc(func(context.Context, Cmd) error { return fmt.Errorf("db01: %w", ErrConnectionLost) })
	mid := f.local.paths[pMid]
	mid.nar = testNAR(strings.Repeat("x", len("bash "+pLeaf))) // same size, another hash than recorded
	f.local.paths[pMid] = mid
	f.hosts[2].add(f.local.paths[pMid]) // host 2 lacks only top
	out := f.copy()
	if err := out[0].Err; !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "check which paths the host lacks") {
		t.Errorf("host 0: %v, want its failed check", err)
	}
	if err := out[1].Err; err == nil || !strings.Contains(err.Error(), "hash mismatch importing path '"+pMid+"'") {
		t.Errorf("host 1: %v, want the rejected path", err)
	}
	if out[2].Err != nil || !slices.Equal(f.hosts[2].added, []string{pTop}) {
		t.Errorf("host 2: %+v, added %v; want top", out[2], f.hosts[2].added)
	}
}

// TestCopyManyLocalFailureFailsEveryHost: without the closure nothing is
// sent and no host is asked anything; every host says why.
func TestCopyManyLocalFailureFailsEveryHost(t *testing.T) {
	local := newFakeStore(t)
	local.cmds.expect("nix-store", "--query", "--requisites", pTop).errout("error: path '" + pTop + "' is not valid\n").exit(1)
	hosts := []*fakeStore{newFakeStore(t), newFakeStore(t)}
	out := CopyMany(context.Background(), local, []CopyTarget{{Runner: hosts[0]}, {Runner: hosts[1]}}, CopyRequest{Paths: []string{pTop}})
	for i, o := range out {
		if o.Err == nil || !strings.Contains(o.Err.Error(), "closure of "+pTop) || hosts[i].serves != 0 {
			t.Errorf("host %d: %v (%d sessions)", i, o.Err, hosts[i].serves)
		}
	}
}

// TestCopyNARChecksItsStart: a NAR that does not start as one (the
// store's files and database disagree, or the stream slipped) stops the
// stream before the hosts get it.
func TestCopyNARChecksItsStart(t *testing.T) {
	fo := &fanout{}
	nar := testNAR("x")
	err := copyNAR(fo, strings.NewReader("garbage!"+string(nar)), PathInfo{Path: pTop, NarSize: int64(len(nar))})
	if err == nil || !strings.Contains(err.Error(), "does not start as a NAR does") {
		t.Errorf("copyNAR(garbage) = %v", err)
	}
	if err := copyNAR(fo, strings.NewReader(string(nar)), PathInfo{Path: pTop, NarSize: 8}); err == nil {
		t.Error("copyNAR accepted a NAR size smaller than a NAR's start")
	}
}

// TestCopyManySubstitutesPerHost: a target's Substitute lets that host
// fetch from its caches first; the others get everything from us.
func TestCopyManySubstitutesPerHost(t *testing.T) {
	f := newManyFixture(t, 2)
	for _, h := range f.hosts {
		h.cache[pMid] = f.local.paths[pMid]
	}
	f.targets[0].Substitute = true
	out := f.copy()
	if o := out[0]; o.Err != nil || o.Substituted != 1 || !slices.Equal(f.hosts[0].added, []string{pTop}) {
		t.Errorf("host 0: %+v, added %v; want mid substituted, top sent", o, f.hosts[0].added)
	}
	if o := out[1]; o.Err != nil || o.Substituted != 0 || !slices.Equal(f.hosts[1].added, []string{pMid, pTop}) {
		t.Errorf("host 1: %+v, added %v; want both sent", o, f.hosts[1].added)
	}
}

// TestCopyManyCancelled: cancelling a copy whose host stopped reading
// ends it, with the cancellation as the host's error.
func TestCopyManyCancelled(t *testing.T) {
	f := newManyFixture(t, 1)
	f.hosts[0].stalled = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan []CopyOutcome)
	go func() { done <- CopyMany(ctx, f.local, f.targets, CopyRequest{Paths: []string{pTop}}) }()
	<-f.hosts[0].stalled
	cancel()
	if err := (<-done)[0].Err; !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestCopyManyLocalStoreOutOfStep: a NAR longer than its record shifts
// the stream; no host may end up reporting success, whichever notices
// first (the host by the hash, this machine by the next NAR's start).
func TestCopyManyLocalStoreOutOfStep(t *testing.T) {
	f := newManyFixture(t, 2)
	mid := f.local.paths[pMid]
	mid.nar = testNAR("bash " + pLeaf + " and then some more bytes")
	f.local.paths[pMid] = mid
	for i, o := range f.copy() {
		if o.Err == nil || !strings.Contains(o.Err.Error(), "does not start as a NAR does") && !strings.Contains(o.Err.Error(), "hash mismatch") {
			t.Errorf("host %d: %v, want the stream's failure", i, o.Err)
		}
		if slices.Contains(f.hosts[i].added, pTop) {
			t.Errorf("host %d added top after a broken stream", i)
		}
	}
}
