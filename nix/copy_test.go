package nix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

const (
	pLeaf = "/nix/store/9a5z707hy19d3d5l5jlindvs6zdjqcz4-glibc-2.39-52"
	pMid  = "/nix/store/zkaw34rifc6r0y6fzbx3ls6gdrlxy1jx-bash-5.2p32"
	pTop  = "/nix/store/8d81lkxk1d4db3h0y8z9rpzmyp784gss-nixos-system-web1-24.05"
	pDrv  = "/nix/store/am461qf92mmpwwl8dilcryk7blx5dly4-nixos-system-web1-24.05.drv"
)

// dumpDB is nix-store --dump-db output for pMid and pTop (Nix 2.8).
const dumpDB = pMid + `
edc6f1c1d70b7e4b7a5cee8f5dbe8f31b6df3a7e83fd0f0e3bb0e8e53a2a1d33
168

1
` + pLeaf + `
` + pTop + `
6a88a935d2b3d871e26daa1cb51b357689000ff3ce2a70fb604d47a7631d9e97
224
` + pDrv + `
1
` + pMid + `
`

// testStores returns this machine's store holding pTop's closure (leaf,
// mid referring to leaf, top to mid) and a host's store holding the
// leaf. The local store answers the closure and records commands too.
func testStores(t *testing.T) (local, host *fakeStore) {
	local = newFakeStore(t)
	top := fakePathOf(pTop, "system "+pMid, pMid)
	top.info.Deriver = pDrv
	local.add(fakePathOf(pLeaf, "glibc"), fakePathOf(pMid, "bash "+pLeaf, pLeaf), top)
	local.cmds.expect("nix-store", "--query", "--requisites", pTop).out(pLeaf + "\n" + pMid + "\n" + pTop + "\n")
	local.cmds.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(local.dumpDB(pLeaf, pMid, pTop))
	host = newFakeStore(t).add(local.paths[pLeaf])
	return local, host
}

// sizeOf is what sending paths of s takes.
func sizeOf(s *fakeStore, paths ...string) int64 {
	var n int64
	for _, p := range paths {
		n += addToStoreSize(s.paths[p].info)
	}
	return n
}

func TestCopy(t *testing.T) {
	t.Run("only the missing paths travel, in dependency order", func(t *testing.T) {
		local, host := testStores(t)
		var first, last CopyProgress
		calls := 0
		res, err := Copy(context.Background(), local, host, CopyRequest{Paths: []string{pTop},
			Progress: func(p CopyProgress) {
				if calls == 0 {
					first = p
				}
				last, calls = p, calls+1
			}})
		want := sizeOf(local, pMid, pTop)
		if err != nil || res.Closure != 3 || !slices.Equal(res.Missing, []string{pMid, pTop}) || res.Bytes != want || res.FromCache != 0 {
			t.Fatalf("Copy() = %+v, %v; want %v sent (%d bytes)", res, err, []string{pMid, pTop}, want)
		}
		if !slices.Equal(host.added, []string{pMid, pTop}) || host.paths[pTop].info.Deriver != pDrv {
			t.Errorf("host added %v (top %+v)", host.added, host.paths[pTop].info)
		}
		if !slices.Equal(host.locked, []string{pLeaf, pMid, pTop}) {
			t.Errorf("host held %v against its garbage collector, want the closure", host.locked)
		}
		if first.BytesTotal != want || last != (CopyProgress{PathsDone: 2, PathsTotal: 2, BytesDone: want, BytesTotal: want}) {
			t.Errorf("progress: first %+v, last %+v after %d calls", first, last, calls)
		}
	})
	t.Run("a host that has everything gets nothing", func(t *testing.T) {
		local, host := testStores(t)
		host.add(local.paths[pMid], local.paths[pTop])
		var last *CopyProgress
		res, err := Copy(context.Background(), local, host, CopyRequest{Paths: []string{pTop}, Progress: func(p CopyProgress) { last = &p }})
		if err != nil || len(res.Missing) != 0 || res.Bytes != 0 || len(host.added) != 0 || local.serves != 0 {
			t.Errorf("Copy() = %+v, %v; host added %v, %d local serves", res, err, host.added, local.serves)
		}
		if last == nil || *last != (CopyProgress{}) {
			t.Errorf("last progress %v, want one empty report", last)
		}
	})
	t.Run("substitution on the destination first", func(t *testing.T) {
		local, host := testStores(t)
		host.cache[pMid] = local.paths[pMid]
		res, err := Copy(context.Background(), local, host, CopyRequest{Paths: []string{pTop}, Substitute: true})
		if err != nil || !slices.Equal(res.Missing, []string{pTop}) || res.FromCache != 1 || !slices.Equal(host.added, []string{pTop}) {
			t.Errorf("Copy() = %+v, %v; host added %v", res, err, host.added)
		}
	})
	t.Run("a failed import is the host's error, with Nix's message", func(t *testing.T) {
		local, host := testStores(t)
		host.failAdding = pTop
		_, err := Copy(context.Background(), local, host, CopyRequest{Paths: []string{pTop}})
		var ee *ExitError
		if !errors.As(err, &ee) || !strings.Contains(err.Error(), "import 2 paths: nix-store --serve --write: exit status 1: error: writing to file: No space left on device") {
			t.Errorf("Copy() error = %v", err)
		}
	})
	t.Run("a NAR that does not match its record fails on the host", func(t *testing.T) {
		local, host := testStores(t)
		mid := local.paths[pMid]
		mid.nar = testNAR(strings.Repeat("x", len("bash "+pLeaf)))
		local.paths[pMid] = mid // same size, other content
		_, err := Copy(context.Background(), local, host, CopyRequest{Paths: []string{pTop}})
		if err == nil || !strings.Contains(err.Error(), "hash mismatch importing path '"+pMid+"'") {
			t.Errorf("Copy() error = %v", err)
		}
	})
	t.Run("a lost connection during the check is an error", func(t *testing.T) {
		local := newFakeStore(t)
		local.cmds.expect("nix-store", "--query", "--requisites", pTop).out(pTop + "\n")
		local.cmds.expect("nix-store", "--dump-db", pTop).out(pTop + "\nhash\n200\n\n0\n")
		lost := runnerFunc(func(context.Context, Cmd) error { return fmt.Errorf("web1: %w", ErrConnectionLost) })
		_, err := Copy(context.Background(), local, lost, CopyRequest{Paths: []string{pTop}})
		if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "check which paths the host lacks: web1: connection lost") {
			t.Errorf("Copy() error = %v", err)
		}
	})
	t.Run("a host that answers something else is stopped", func(t *testing.T) {
		local := newFakeStore(t)
		local.cmds.expect("nix-store", "--query", "--requisites", pTop).out(pTop + "\n")
		local.cmds.expect("nix-store", "--dump-db", pTop).out(pTop + "\nhash\n200\n\n0\n")
		chatty := runnerFunc(func(ctx context.Context, c Cmd) error {
			io.WriteString(c.Stdout, "Welcome to web1! Have a nice day.\n")
			<-ctx.Done() // it would go on waiting for input
			return ctx.Err()
		})
		_, err := Copy(context.Background(), local, chatty, CopyRequest{Paths: []string{pTop}})
		if err == nil || !strings.Contains(err.Error(), "nix-store --serve: greeting: not a nix-store --serve greeting") {
			t.Errorf("Copy() error = %v", err)
		}
	})
}

func TestParseDumpDB(t *testing.T) {
	infos, err := parseDumpDB(dumpDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Deriver != "" || infos[1].NarHash != "6a88a935d2b3d871e26daa1cb51b357689000ff3ce2a70fb604d47a7631d9e97" || infos[0].NarSize != 168 || !slices.Equal(infos[0].References, []string{pLeaf}) ||
		infos[1].Path != pTop || infos[1].Deriver != pDrv || infos[1].NarSize != 224 {
		t.Errorf("parseDumpDB() = %+v", infos)
	}
	// Numbers a store could not have written: an overflowing reference
	// count (which would wrap the bounds check and panic) and a negative size.
	for _, bad := range []string{pTop + "\nhash\nbig\n\n0\n", pTop + "\nhash\n1\n\n3\n" + pMid + "\n",
		pTop + "\nhash\n1\n\n9223372036854775807\n", pTop + "\nhash\n-1\n\n0\n"} {
		if _, err := parseDumpDB(bad); err == nil {
			t.Errorf("parseDumpDB(%q) accepted", bad)
		}
	}
}

func TestArgChunks(t *testing.T) {
	var paths []string
	for i := range 5000 {
		paths = append(paths, fmt.Sprintf("/nix/store/%032d-pkg-%d", i, i))
	}
	chunks := argChunks(paths, maxArgBytes)
	if len(chunks) < 2 {
		t.Fatalf("5000 paths in %d chunk(s), want several", len(chunks))
	}
	var joined []string
	for _, c := range chunks {
		if n := len(strings.Join(c, " ")); n > maxArgBytes {
			t.Errorf("chunk of %d bytes", n)
		}
		joined = append(joined, c...)
	}
	if !slices.Equal(joined, paths) {
		t.Error("chunks lost or reordered paths")
	}
}

// TestCopyHostThatTalksOn: a host that answers, then keeps writing
// instead of exiting when its input ends, does not hold the copy.
func TestCopyHostThatTalksOn(t *testing.T) {
	local, host := testStores(t)
	host.add(local.paths[pMid], local.paths[pTop])
	talker := runnerFunc(func(ctx context.Context, c Cmd) error {
		if err := host.Run(ctx, c); err != nil {
			return err
		}
		for { // stdin has ended; a real server would exit now
			if _, err := c.Stdout.Write([]byte("more")); err != nil {
				return fmt.Errorf("web1: %w", err)
			}
		}
	})
	_, err := Copy(context.Background(), local, talker, CopyRequest{Paths: []string{pTop}})
	if err == nil || !strings.Contains(err.Error(), "wrote more than it was asked for") {
		t.Errorf("Copy() error = %v", err)
	}
}
