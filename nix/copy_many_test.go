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

// manyFixture is a local fake and one fake per host, with each host's
// last progress report.
type manyFixture struct {
	local   *fakeRunner
	hosts   []*fakeRunner
	targets []CopyTarget
	last    []CopyProgress
	calls   []int
}

func newManyFixture(t *testing.T, n int) *manyFixture {
	f := &manyFixture{local: newFakeRunner(t), last: make([]CopyProgress, n), calls: make([]int, n)}
	f.local.anyOrder = true // the groups' exports run concurrently
	for i := range n {
		h := newFakeRunner(t)
		f.hosts = append(f.hosts, h)
		f.targets = append(f.targets, CopyTarget{Runner: h, Progress: func(p CopyProgress) { f.last[i] = p; f.calls[i]++ }})
	}
	return f
}

var checkArgv = []string{"sh", "-c", checkValidityScript}

const closureLines = pLeaf + "\n" + pMid + "\n" + pTop + "\n"

// TestCopyManySharesOneExportPerMissingSet: two hosts lacking the same
// paths get one export between them, a host lacking other paths its
// own, a host lacking nothing nothing; the local closure and records are
// asked for once.
func TestCopyManySharesOneExportPerMissingSet(t *testing.T) {
	f := newManyFixture(t, 4)
	f.local.expect("nix-store", "--query", "--requisites", pTop).out(closureLines)
	f.local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
	f.local.expect("nix-store", "--export", pMid, pTop).out("STREAM-MID-TOP")
	f.local.expect("nix-store", "--export", pTop).out("STREAM-TOP")
	for _, i := range []int{0, 2} {
		f.hosts[i].expect(checkArgv...).in(closureLines).out(pMid + "\n" + pTop + "\n")
		f.hosts[i].expect("nix-store", "--import").priv().in("STREAM-MID-TOP")
	}
	f.hosts[1].expect(checkArgv...).in(closureLines).out(pTop + "\n")
	f.hosts[1].expect("nix-store", "--import").priv().in("STREAM-TOP")
	f.hosts[3].expect(checkArgv...).in(closureLines)

	out := CopyMany(context.Background(), f.local, f.targets, CopyRequest{Paths: []string{pTop}})
	want := []struct {
		missing []string
		bytes   int64
	}{{[]string{pMid, pTop}, 14}, {[]string{pTop}, 10}, {[]string{pMid, pTop}, 14}, {nil, 0}}
	for i, w := range want {
		o := out[i]
		if o.Err != nil || o.Closure != 3 || !slices.Equal(o.Missing, w.missing) || o.Bytes != w.bytes {
			t.Errorf("host %d: %+v, want missing %v, %d bytes", i, o, w.missing, w.bytes)
		}
		if f.calls[i] == 0 || f.last[i].PathsDone != len(w.missing) || f.last[i].BytesDone != w.bytes || f.last[i].BytesTotal != w.bytes {
			t.Errorf("host %d: last progress %+v after %d calls", i, f.last[i], f.calls[i])
		}
	}
}

// TestCopyManyHostFailsMidStream: a host whose connection drops in the
// middle of the stream leaves it with its error; the others get it all.
func TestCopyManyHostFailsMidStream(t *testing.T) {
	f := newManyFixture(t, 3)
	stream := strings.Repeat("NAR-BYTES ", 1000)
	f.local.expect("nix-store", "--query", "--requisites", pTop).out(closureLines)
	f.local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
	f.local.expect("nix-store", "--export", pMid, pTop).out(stream)
	for i, h := range f.hosts {
		h.expect(checkArgv...).in(closureLines).out(pMid + "\n" + pTop + "\n")
		imp := h.expect("nix-store", "--import").priv()
		if i == 1 {
			imp.readsThen(4, fmt.Errorf("web02: %w", ErrConnectionLost))
		} else {
			imp.in(stream)
		}
	}
	out := CopyMany(context.Background(), f.local, f.targets, CopyRequest{Paths: []string{pTop}})
	for _, i := range []int{0, 2} {
		if out[i].Err != nil || out[i].Bytes != int64(len(stream)) || f.last[i].PathsDone != 2 {
			t.Errorf("host %d: %+v (last progress %+v), want the whole stream", i, out[i], f.last[i])
		}
	}
	if err := out[1].Err; !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "import 2 paths: web02: connection lost") {
		t.Errorf("host 1: error %v, want the import's lost connection", err)
	}
	if out[1].Bytes > int64(len(stream)) || f.last[1].PathsDone == 2 {
		t.Errorf("host 1: %d bytes, last progress %+v: reported as done", out[1].Bytes, f.last[1])
	}
}

// TestCopyManyStopsTheExportWhenNoHostIsLeft: when every import failed,
// the export (blocked on its output, as a real one would be) is stopped.
func TestCopyManyStopsTheExportWhenNoHostIsLeft(t *testing.T) {
	f := newManyFixture(t, 2)
	f.local.expect("nix-store", "--query", "--requisites", pTop).out(closureLines)
	f.local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
	f.local.expect("nix-store", "--export", pTop).out("STREAM").hang()
	for _, h := range f.hosts {
		h.expect(checkArgv...).in(closureLines).out(pTop + "\n")
		h.expect("nix-store", "--import").priv().errout("error: No space left on device\n").exit(1).readsThen(0, nil)
	}
	// The deadline only bounds a broken run; a working one ends at once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := CopyMany(ctx, f.local, f.targets, CopyRequest{Paths: []string{pTop}})
	for i, o := range out {
		var ee *ExitError
		if !errors.As(o.Err, &ee) || !strings.Contains(o.Err.Error(), "import 1 paths:") || ctx.Err() != nil {
			t.Errorf("host %d: error %v, want the import's own failure", i, o.Err)
		}
	}
}

// TestCopyManyFailuresStayWithTheirHost: a host whose check fails gets
// that error alone; a failed export fails only the hosts of its stream.
func TestCopyManyFailuresStayWithTheirHost(t *testing.T) {
	f := newManyFixture(t, 3)
	f.local.expect("nix-store", "--query", "--requisites", pTop).out(closureLines)
	f.local.expect("nix-store", "--dump-db", pLeaf, pMid, pTop).out(closureDumpDB)
	f.local.expect("nix-store", "--export", pTop).errout("error: path is not valid\n").exit(1)
	f.local.expect("nix-store", "--export", pMid, pTop).out("STREAM")
	f.hosts[0].expect(checkArgv...).fail(fmt.Errorf("db01: %w", ErrConnectionLost))
	f.hosts[1].expect(checkArgv...).in(closureLines).out(pTop + "\n")
	f.hosts[1].expect("nix-store", "--import").priv().errout("error: unexpected end of input\n").exit(1)
	f.hosts[2].expect(checkArgv...).in(closureLines).out(pMid + "\n" + pTop + "\n")
	f.hosts[2].expect("nix-store", "--import").priv().in("STREAM")
	out := CopyMany(context.Background(), f.local, f.targets, CopyRequest{Paths: []string{pTop}})
	if err := out[0].Err; !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "check which paths the host lacks") {
		t.Errorf("host 0: %v, want its failed check", err)
	}
	if err := out[1].Err; err == nil || !strings.HasPrefix(err.Error(), "export 1 paths: nix-store --export") ||
		!strings.Contains(err.Error(), "error: path is not valid (import: nix-store --import: exit status 1") {
		t.Errorf("host 1: %v, want the export's failure with the import's", err)
	}
	if out[2].Err != nil || out[2].Bytes != 6 {
		t.Errorf("host 2: %+v, want its stream", out[2])
	}
}

// TestCopyManyLocalFailureFailsEveryHost: without the closure nothing is
// sent, and every host says why.
func TestCopyManyLocalFailureFailsEveryHost(t *testing.T) {
	f := newManyFixture(t, 2)
	f.local.expect("nix-store", "--query", "--requisites", pTop).errout("error: path '" + pTop + "' is not valid\n").exit(1)
	out := CopyMany(context.Background(), f.local, f.targets, CopyRequest{Paths: []string{pTop}})
	for i, o := range out {
		if o.Err == nil || !strings.Contains(o.Err.Error(), "closure of "+pTop) {
			t.Errorf("host %d: %v", i, o.Err)
		}
	}
}
