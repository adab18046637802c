package nix

import (
	"context"
	"errors"
	"fmt"
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

// leafDumpDB is nix-store --dump-db output for pLeaf (Nix 2.8).
const leafDumpDB = pLeaf + `
1b2dd0ad7e0d8c29cd6d1a5b2f6f2d0b54c4b2b3b6d0d3a0bdb4e7b1c0d2a3e4
120

0
`

// closureDumpDB is the records of the whole closure of pTop.
const closureDumpDB = leafDumpDB + dumpDB

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

func TestCopy(t *testing.T) {
	closure := pLeaf + "\n" + pMid + "\n" + pTop + "\n"
	check := []string{"sh", "-c", checkValidityScript}
	tests := []struct {
		name     string
		req      CopyRequest
		script   func(local, remote *fakeRunner)
		missing  []string
		subst    int
		bytes    int64
		wantErr  string
		progress bool
	}{{
		name: "only the missing paths travel, in dependency order",
		req:  CopyRequest{Paths: []string{pTop}},
		script: func(local, remote *fakeRunner) {
			local.expect("nix-store", "--query", "--requisites", pTop).out(closure)
			remote.expect(check...).in(closure).out(pMid + "\n" + pTop + "\n")
			local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
			local.expect("nix-store", "--export", pMid, pTop).out("EXPORT-STREAM")
			remote.expect("nix-store", "--import").priv().in("EXPORT-STREAM")
		},
		missing:  []string{pMid, pTop},
		bytes:    int64(len("EXPORT-STREAM")),
		progress: true,
	}, {
		name: "a host that has everything gets nothing",
		req:  CopyRequest{Paths: []string{pTop}},
		script: func(local, remote *fakeRunner) {
			local.expect("nix-store", "--query", "--requisites", pTop).out(closure)
			local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
			remote.expect(check...).in(closure)
		},
		progress: true,
	}, {
		name: "substitution on the destination first, its failure tolerated",
		req:  CopyRequest{Paths: []string{pTop}, Substitute: true},
		script: func(local, remote *fakeRunner) {
			local.expect("nix-store", "--query", "--requisites", pTop).out(closure)
			remote.expect(check...).in(closure).out(pLeaf + "\n" + pMid + "\n" + pTop + "\n")
			remote.expect("sh", "-c", substituteScript).priv().in(closure).
				errout("error: path '" + pTop + "' is required, but there is no substituter that can build it\n").exit(1)
			remote.expect(check...).in(closure).out(pMid + "\n" + pTop + "\n")
			local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
			local.expect("nix-store", "--export", pMid, pTop).out("XX")
			remote.expect("nix-store", "--import").priv().in("XX")
		},
		missing: []string{pMid, pTop},
		subst:   1,
		bytes:   2,
	}, {
		name: "a failed import names the paths and stops",
		req:  CopyRequest{Paths: []string{pTop}},
		script: func(local, remote *fakeRunner) {
			local.expect("nix-store", "--query", "--requisites", pTop).out(closure)
			remote.expect(check...).in(closure).out(pTop + "\n")
			local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
			local.expect("nix-store", "--export", pTop).out("X")
			remote.expect("nix-store", "--import").priv().errout("error: writing to file: No space left on device\n").exit(1)
		},
		missing: []string{pTop},
		wantErr: "import 1 paths: nix-store --import: exit status 1: error: writing to file: No space left on device",
	}, {
		name: "a lost connection during the check is an error",
		req:  CopyRequest{Paths: []string{pTop}},
		script: func(local, remote *fakeRunner) {
			local.expect("nix-store", "--query", "--requisites", pTop).out(closure)
			local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
			remote.expect(check...).fail(fmt.Errorf("web1: %w", ErrConnectionLost))
		},
		wantErr: "connection lost",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, remote := newFakeRunner(t), newFakeRunner(t)
			tt.script(local, remote)
			var last CopyProgress
			calls := 0
			tt.req.Progress = func(p CopyProgress) { last = p; calls++ }
			res, err := Copy(context.Background(), local, remote, tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Copy() error = %v, want %q", err, tt.wantErr)
				}
				if tt.wantErr == "connection lost" && !errors.Is(err, ErrConnectionLost) {
					t.Errorf("error %v does not wrap ErrConnectionLost", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Copy() error: %v", err)
			}
			if res.Closure != 3 || !slices.Equal(res.Missing, tt.missing) || res.Substituted != tt.subst || res.Bytes != tt.bytes {
				t.Errorf("Copy() = %+v, want closure 3, missing %v, substituted %d, bytes %d", res, tt.missing, tt.subst, tt.bytes)
			}
			if tt.progress && (calls == 0 || last.PathsDone != len(tt.missing) || last.BytesDone != tt.bytes || last.BytesTotal != tt.bytes) {
				t.Errorf("last progress %+v after %d calls", last, calls)
			}
		})
	}
}

func TestExportSize(t *testing.T) {
	// Sizes measured with nix-store --export on Nix 2.8 (one path each, so
	// the stream is the path's size plus the 8-byte end marker).
	tests := []struct {
		info PathInfo
		want int64
	}{
		{PathInfo{Path: "/nix/store/9a5z707hy19d3d5l5jlindvs6zdjqcz4-zzz-leaf", NarSize: 120}, 224},
		{PathInfo{Path: "/nix/store/zkaw34rifc6r0y6fzbx3ls6gdrlxy1jx-aaa-mid", NarSize: 168,
			References: []string{"/nix/store/9a5z707hy19d3d5l5jlindvs6zdjqcz4-zzz-leaf"}}, 336},
	}
	for _, tt := range tests {
		if got := tt.info.ExportSize(); got != tt.want {
			t.Errorf("ExportSize(%s) = %d, want %d", tt.info.Path, got, tt.want)
		}
	}
}

func TestParseDumpDB(t *testing.T) {
	infos, err := parseDumpDB(dumpDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Deriver != "" || infos[0].NarSize != 168 || !slices.Equal(infos[0].References, []string{pLeaf}) ||
		infos[1].Path != pTop || infos[1].Deriver != pDrv || infos[1].NarSize != 224 {
		t.Errorf("parseDumpDB() = %+v", infos)
	}
	for _, bad := range []string{pTop + "\nhash\nbig\n\n0\n", pTop + "\nhash\n1\n\n3\n" + pMid + "\n"} {
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
