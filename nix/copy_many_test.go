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

// TestCopyManySharesOneStream: hosts lacking the same paths or others
// get one stream between them, each only what it lacks; a host lacking
// nothing gets nothing; the closure and the records are asked for once.
func TestCopyManySharesOneStream(t *testing.T) {
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
	if f.local.serves != 1 {
		t.Errorf("this machine's store was read %d times, want once", f.local.serves)
	}
}

// Two systems sharing mid: top (mid, leaf) and top2 (mid, leaf2).
const (
	pTop2  = "/nix/store/1m6xkl3rjc0i4lq9hrc4y3a3d3j0cbq7-nixos-system-web2-24.05"
	pLeaf2 = "/nix/store/4wcvl0g1rq2a5bqk6i2kjnwl4m8y2r0n-hostname-web2"
)

// twoSystems is this machine's store holding top and top2, answering the
// closure of roots with order (its dependency order) and the records.
func twoSystems(t *testing.T, roots, order []string) *fakeStore {
	local := newFakeStore(t)
	local.add(fakePathOf(pLeaf, "glibc"), fakePathOf(pMid, "bash "+pLeaf, pLeaf), fakePathOf(pTop, "system "+pMid, pMid),
		fakePathOf(pLeaf2, "web2"), fakePathOf(pTop2, "system "+pMid+pLeaf2, pMid, pLeaf2))
	local.cmds.expect(append([]string{"nix-store", "--query", "--requisites"}, roots...)...).out(strings.Join(order, "\n") + "\n")
	local.cmds.expect(append([]string{"nix-store", "--dump-db"}, order...)...).out(local.dumpDB(order...))
	return local
}

// TestCopyManyOwnPaths: hosts with systems of their own are each asked
// about their own closure only and get only what they lack of it, yet
// this machine's store is read once, the shared path once for both.
func TestCopyManyOwnPaths(t *testing.T) {
	local := twoSystems(t, []string{pTop, pTop2}, []string{pLeaf, pMid, pTop, pLeaf2, pTop2})
	hosts := []*fakeStore{newFakeStore(t).add(local.paths[pLeaf]), newFakeStore(t), newFakeStore(t).add(local.paths[pLeaf])}
	var last [3]CopyProgress
	targets := []CopyTarget{{Paths: []string{pTop}}, {Paths: []string{pTop2}}, {Paths: []string{pTop}}}
	for i := range targets {
		targets[i].Runner = hosts[i]
		targets[i].Progress = func(p CopyProgress) { last[i] = p }
	}
	out := CopyMany(context.Background(), local, targets, CopyRequest{})
	closures := [][]string{{pLeaf, pMid, pTop}, {pLeaf, pMid, pLeaf2, pTop2}, {pLeaf, pMid, pTop}}
	want := [][]string{{pMid, pTop}, {pLeaf, pMid, pLeaf2, pTop2}, {pMid, pTop}}
	for i, w := range want {
		o, size := out[i], sizeOf(local, w...)
		if o.Err != nil || o.Closure != len(closures[i]) || !slices.Equal(o.Missing, w) || o.Bytes != size || !slices.Equal(hosts[i].added, w) {
			t.Errorf("host %d: %+v, added %v; want %v (%d bytes)", i, o, hosts[i].added, w, size)
		}
		if !slices.Equal(hosts[i].locked, closures[i]) {
			t.Errorf("host %d was asked about %v, want its closure %v", i, hosts[i].locked, closures[i])
		}
		if last[i] != (CopyProgress{PathsDone: len(w), PathsTotal: len(w), BytesDone: size, BytesTotal: size}) {
			t.Errorf("host %d: last progress %+v", i, last[i])
		}
	}
	if local.serves != 1 {
		t.Errorf("this machine's store was read %d times, want once", local.serves)
	}
}

// TestCopyManyOwnPathsHostFails: when the only host lacking some paths
// fails, they are read and dropped, and the others still get theirs.
func TestCopyManyOwnPathsHostFails(t *testing.T) {
	local := twoSystems(t, []string{pTop2, pTop}, []string{pLeaf2, pLeaf, pMid, pTop, pTop2})
	hosts := []*fakeStore{newFakeStore(t), newFakeStore(t)}
	hosts[0].failAdding = pLeaf2
	targets := []CopyTarget{{Runner: hosts[0], Paths: []string{pTop2}}, {Runner: hosts[1], Paths: []string{pTop}}}
	out := CopyMany(context.Background(), local, targets, CopyRequest{})
	if out[0].Err == nil || len(hosts[0].added) != 0 {
		t.Errorf("host 0: %+v, added %v; want its failure", out[0], hosts[0].added)
	}
	if want := []string{pLeaf, pMid, pTop}; out[1].Err != nil || !slices.Equal(hosts[1].added, want) {
		t.Errorf("host 1: %+v, added %v; want %v", out[1], hosts[1].added, want)
	}
}

// TestCopyManyRootsOwnPaths: each host's GC root names its own system,
// made after its paths arrived (Rooting says so just before).
func TestCopyManyRootsOwnPaths(t *testing.T) {
	local := twoSystems(t, []string{pTop, pTop2}, []string{pLeaf, pMid, pTop, pLeaf2, pTop2})
	root := GCRootDir + "/op1"
	hosts := []*fakeStore{newFakeStore(t), newFakeStore(t).add(local.paths[pLeaf], local.paths[pMid], local.paths[pLeaf2], local.paths[pTop2])}
	var rooting [2]bool
	targets := make([]CopyTarget, 2)
	for i, top := range []string{pTop, pTop2} {
		hosts[i].cmds.expect("sh", "-c", rootScript, "sh", top, root).priv()
		r := runnerFunc(func(ctx context.Context, c Cmd) error {
			if c.Argv[0] == "sh" && !rooting[i] {
				t.Errorf("host %d: the root was made before Rooting was called", i)
			}
			return hosts[i].Run(ctx, c)
		})
		targets[i] = CopyTarget{Runner: r, Paths: []string{top}, Root: root, Rooting: func() {
			if i == 0 && !hosts[0].has(pTop) {
				t.Error("host 0: Rooting called before its paths arrived")
			}
			rooting[i] = true
		}}
	}
	for i, o := range CopyMany(context.Background(), local, targets, CopyRequest{}) {
		if o.Err != nil {
			t.Errorf("host %d: %v", i, o.Err)
		}
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
// sent and no host is asked anything (the sessions started meanwhile are
// stopped); every host says why.
func TestCopyManyLocalFailureFailsEveryHost(t *testing.T) {
	local := newFakeStore(t)
	local.cmds.expect("nix-store", "--query", "--requisites", pTop).errout("error: path '" + pTop + "' is not valid\n").exit(1)
	hosts := []*fakeStore{newFakeStore(t), newFakeStore(t)}
	out := CopyMany(context.Background(), local, []CopyTarget{{Runner: hosts[0]}, {Runner: hosts[1]}}, CopyRequest{Paths: []string{pTop}})
	for i, o := range out {
		h := hosts[i]
		if o.Err == nil || !strings.Contains(o.Err.Error(), "closure of "+pTop) || h.serving != 0 || len(h.locked) != 0 || len(h.added) != 0 {
			t.Errorf("host %d: %v (%d sessions running, asked about %v, sent %v)", i, o.Err, h.serving, h.locked, h.added)
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
	if o := out[0]; o.Err != nil || o.FromCache != 1 || !slices.Equal(f.hosts[0].added, []string{pTop}) {
		t.Errorf("host 0: %+v, added %v; want mid substituted, top sent", o, f.hosts[0].added)
	}
	if o := out[1]; o.Err != nil || o.FromCache != 0 || !slices.Equal(f.hosts[1].added, []string{pMid, pTop}) {
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
