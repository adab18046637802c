package nix

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// nixdeck copies closures through `nix-store --serve`, the protocol
// nix-copy-closure speaks. On the host, one `nix-store --serve --write`
// does the whole copy: it answers which paths are valid (holding them
// against its garbage collector), substitutes, then adds each path from
// its NAR and acknowledges it, so progress counts what the host really
// stored. Before, a copy cost the host two sessions and four processes
// (a validity check through sh and xargs, then `nix-store --import`). On
// this machine, `nix-store --serve` hands out each path's NAR on request,
// in the order we choose, with no command line to split. Unlike
// nix-copy-closure, nixdeck does not wait for a path to be acknowledged
// before sending the next. Closures are read through it too
// (closure_serve.go); this file is the wire format both use.
//
// The wire format (Nix 2.8, src/libstore/serve-protocol.hh and
// src/nix-store/nix-store.cc opServe): numbers are 64-bit little endian;
// a string is its length, its bytes, then zeros up to a multiple of 8; a
// set is its count, then its strings. The server flushes after each command.

// Serve protocol constants (serve-protocol.hh).
const (
	serveMagic1 = 0x390c9deb // client greeting
	serveMagic2 = 0x5452eecb // server greeting
	// serveVersion is the protocol version nixdeck speaks (2.5: the first
	// with cmdAddToStoreNar).
	serveVersion = 2<<8 | 5

	cmdQueryValidPaths = 1
	cmdDumpStorePath   = 3
	cmdAddToStoreNar   = 9
)

// maxServeString bounds a string a host may send (a store path), and
// maxServeSet the size of a set; a host cannot make us allocate more.
const (
	maxServeString = 4096
	maxServeSet    = 1 << 20
)

// narMagic is how every NAR starts: the string "nix-archive-1".
var narMagic = wireBytes("nix-archive-1")

// serveWriter builds protocol messages; they are sent with one Write.
type serveWriter struct{ buf []byte }

func (w *serveWriter) num(n uint64) { w.buf = binary.LittleEndian.AppendUint64(w.buf, n) }

func (w *serveWriter) str(s string) {
	w.num(uint64(len(s)))
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, make([]byte, (8-len(s)%8)%8)...)
}

func (w *serveWriter) strs(ss []string) {
	w.num(uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *serveWriter) flag(b bool) {
	if b {
		w.num(1)
	} else {
		w.num(0)
	}
}

// wireBytes is s as a protocol string.
func wireBytes(s string) []byte {
	var w serveWriter
	w.str(s)
	return w.buf
}

// wireString is the size of s in the protocol: length, then the bytes
// padded to 8.
func wireString(s string) int64 { return 8 + int64((len(s)+7)/8*8) }

// serveReader reads what a `nix-store --serve` sends, bounded.
type serveReader struct{ r *bufio.Reader }

// num reads a number where the buffer holds it: an array passed to
// io.ReadFull would be allocated on the heap at every number, and a
// closure's reply has tens of thousands. The errors are io.ReadFull's.
func (r serveReader) num() (uint64, error) {
	b, err := r.r.Peek(8)
	if err != nil {
		if errors.Is(err, io.EOF) && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	r.r.Discard(8)
	return binary.LittleEndian.Uint64(b), nil
}

func (r serveReader) str() (string, error) {
	var buf []byte
	b, err := r.bytes(&buf)
	return string(b), err
}

// bytes reads a string into *buf, which it grows as needed and the next
// call may reuse; the padding must be zeros, as Nix writes it.
func (r serveReader) bytes(buf *[]byte) ([]byte, error) {
	n, err := r.num()
	if err != nil {
		return nil, err
	}
	if n > maxServeString {
		return nil, fmt.Errorf("a string of %d bytes (at most %d expected)", n, maxServeString)
	}
	padded := int(n+7) / 8 * 8
	if cap(*buf) < padded {
		*buf = make([]byte, padded)
	}
	b := (*buf)[:padded]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, err
	}
	for _, pad := range b[n:] {
		if pad != 0 {
			return nil, errors.New("padding is not zeros")
		}
	}
	return b[:n], nil
}

// strs reads a set of at most max strings.
func (r serveReader) strs(max int) ([]string, error) {
	n, err := r.num()
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("a set of %d strings (at most %d expected)", n, max)
	}
	ss := make([]string, 0, n)
	for range n {
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// greeting is what a client speaking version sends first.
func greeting(version uint64) []byte {
	var w serveWriter
	w.num(serveMagic1)
	w.num(version)
	return w.buf
}

// readGreeting checks the server's greeting: nix-store --serve, speaking
// protocol 2.x (its minor version changes nothing nixdeck asks).
func (r serveReader) readGreeting() error {
	magic, err := r.num()
	if err != nil {
		return err
	}
	if magic != serveMagic2 {
		return fmt.Errorf("not a nix-store --serve greeting (%#x)", magic)
	}
	v, err := r.num()
	if err == nil && v>>8 != serveVersion>>8 {
		err = fmt.Errorf("protocol version %#x, not 2.x", v)
	}
	return err
}

// queryValidRequest asks which of paths are valid; lock keeps them from
// the garbage collector while the session lasts, substitute lets the
// host fetch the others from its binary caches first.
func queryValidRequest(paths []string, lock, substitute bool) []byte {
	var w serveWriter
	w.num(cmdQueryValidPaths)
	w.flag(lock)
	w.flag(substitute)
	w.strs(paths)
	return w.buf
}

// addToStoreHeader is the request that adds info's path; its NAR
// (NarSize bytes) follows it.
func addToStoreHeader(info PathInfo) []byte {
	var w serveWriter
	w.num(cmdAddToStoreNar)
	w.str(info.Path)
	w.str(info.Deriver)
	w.str(info.NarHash)
	w.strs(info.References)
	w.num(0) // registration time: now
	w.num(uint64(info.NarSize))
	w.flag(false) // not ultimately trusted
	w.strs(nil)   // no signatures
	w.str("")     // no content address
	return w.buf
}

// addToStoreSize is the number of bytes sending info's path takes: the
// header, then the NAR.
func addToStoreSize(info PathInfo) int64 {
	n := 8 + wireString(info.Path) + wireString(info.Deriver) + wireString(info.NarHash) + 8 + 8 + 8 + 8 + 8 + wireString("")
	for _, r := range info.References {
		n += wireString(r)
	}
	return n + info.NarSize
}

// dumpRequest asks a `nix-store --serve` for path's NAR.
func dumpRequest(path string) []byte {
	var w serveWriter
	w.num(cmdDumpStorePath)
	w.str(path)
	return w.buf
}
