package nix

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"syscall"
)

// A closure is read through `nix-store --serve`, the protocol behind Nix's
// ssh:// stores (nix-copy-closure, Hydra's builders): one process answers
// "the closure of these paths" and then "the references and NAR size of
// each of them", where the query flags of nix-store need a process each
// (--requisites, --size, --references per path). These two commands are
// the same in Nix 2.8 (the oldest nixdeck supports) and current Nix:
//
//	hello        client: magic 0x390c9deb, version; server: magic 0x5452eecb, version
//	closure      client: 7, include-outputs 0, paths; server: paths
//	path infos   client: 2, paths; server: per known path its path, deriver,
//	             references, download size, NAR size; then ""
//
// Numbers, strings and sets are encoded as serve.go says. Asking for
// version 2.3 keeps the NAR hash, content address and signatures (2.4 on)
// out of the reply. Everything the host sends is bounded and checked here.
const (
	serveQueryVersion = 2<<8 | 3
	serveQueryInfos   = 2
	serveQueryClosure = 7
)

// servedInfo is what `nix-store --serve` says about one store path.
type servedInfo struct {
	refs    []string
	narSize int64
}

// serveConn is the client side of one `nix-store --serve` conversation
// that reads closures: requests go out through w, replies are read
// through in (serve.go's codec).
type serveConn struct {
	w  *bufio.Writer
	in serveReader
	// greeted is set once the server's greeting, which comes before the
	// reply to the first request, has been read.
	greeted bool
	// hangUp closes the command's stdin: nix-store --serve ends at EOF.
	hangUp func()
	buf    []byte
	paths  map[string]string
}

// hello sends the greeting (with the first request).
func (c *serveConn) hello() { c.w.Write(greeting(serveQueryVersion)) }

// send writes a request, flushes and, before its reply, reads the
// server's greeting.
func (c *serveConn) send(w serveWriter) error {
	c.w.Write(w.buf)
	if err := c.w.Flush(); err != nil {
		return serveEOF(err)
	}
	if c.greeted {
		return nil
	}
	c.greeted = true
	if err := c.in.readGreeting(); err != nil {
		return serveErr(fmt.Errorf("greeting: %w", err))
	}
	return nil
}

// queryClosure asks for the closure of roots and reads it.
func (c *serveConn) queryClosure(roots []string) ([]string, error) {
	var w serveWriter
	w.num(serveQueryClosure)
	w.flag(false) // without the outputs of derivations
	w.strs(roots)
	if err := c.send(w); err != nil {
		return nil, err
	}
	n, err := c.getInt()
	if err != nil {
		return nil, err
	}
	var paths []string
	for ; n > 0; n-- {
		p, err := c.getPath()
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// queryInfos asks for the references and NAR sizes of paths and reads
// them; the server leaves out paths it does not know, and may send no
// path it was not asked about.
func (c *serveConn) queryInfos(paths []string) (map[string]servedInfo, error) {
	asked := make(map[string]string, len(paths))
	for _, p := range paths {
		asked[p] = p
	}
	var w serveWriter
	w.num(serveQueryInfos)
	w.strs(paths)
	if err := c.send(w); err != nil {
		return nil, err
	}
	infos := make(map[string]servedInfo, len(paths))
	for {
		b, err := c.getBytes()
		if err != nil || len(b) == 0 {
			return infos, err
		}
		p, ok := asked[string(b)]
		if _, dup := infos[p]; !ok || dup {
			return nil, fmt.Errorf("nix-store --serve: information about %q, which was not asked for or came twice", truncateForError(b))
		}
		var info servedInfo
		if _, err = c.getBytes(); err != nil { // the deriver
			return nil, err
		}
		n, err := c.getInt()
		for ; err == nil && n > 0; n-- {
			var r string
			if r, err = c.getPath(); err == nil {
				info.refs = append(info.refs, r)
			}
		}
		var size uint64
		if err == nil {
			if _, err = c.getInt(); err == nil { // the download size
				size, err = c.getInt()
			}
		}
		if err == nil && size > 1<<62 {
			err = fmt.Errorf("nix-store --serve: NAR size %d of %s", size, p)
		}
		if err != nil {
			return nil, err
		}
		info.narSize = int64(size)
		infos[p] = info
	}
}

func (c *serveConn) getInt() (uint64, error) {
	n, err := c.in.num()
	return n, serveErr(err)
}

// getBytes reads a string into a buffer that the next read reuses.
func (c *serveConn) getBytes() ([]byte, error) {
	b, err := c.in.bytes(&c.buf)
	return b, serveErr(err)
}

// getPath reads a string that must name a store object. Paths are
// interned: most come many times, as references of other paths.
func (c *serveConn) getPath() (string, error) {
	b, err := c.getBytes()
	if err != nil {
		return "", err
	}
	if p, ok := c.paths[string(b)]; ok {
		return p, nil
	}
	p := string(b)
	if !isStoreObject(p) {
		return "", fmt.Errorf("nix-store --serve: %q is not a store path", truncateForError(b))
	}
	if c.paths == nil {
		c.paths = map[string]string{}
	}
	c.paths[p] = p
	return p, nil
}

// endedError is output that stops early: the command has ended (or
// closed its streams), and its own error, if it has one, says why.
type endedError struct{ msg string }

func (e *endedError) Error() string { return e.msg }

// serveErr is err from reading a reply: the end of the streams as an
// endedError, what the server got wrong under its name.
func serveErr(err error) error {
	if err == nil {
		return nil
	}
	if ended := serveEOF(err); ended != err {
		return ended
	}
	return fmt.Errorf("nix-store --serve: %w", err)
}

// serveEOF turns the end of the streams into an endedError.
func serveEOF(err error) error {
	// A closed stdin (EPIPE) is the command gone, too.
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, syscall.EPIPE) {
		return &endedError{"nix-store --serve: the reply ends early"}
	}
	return err
}
