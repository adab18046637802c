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

// queryClosure asks for the closure of roots and numbers its paths in g.
func (c *serveConn) queryClosure(g *servedGraph, roots []string) error {
	var w serveWriter
	w.num(serveQueryClosure)
	w.flag(false) // without the outputs of derivations
	w.strs(roots)
	if err := c.send(w); err != nil {
		return err
	}
	n, err := c.getInt()
	for ; err == nil && n > 0; n-- {
		_, err = c.getPath(g)
	}
	return err
}

// queryInfos asks for the references and NAR sizes of the paths numbered
// from to below, which are named but not asked about yet, and reads them
// into g, numbering the references it has not seen. The server leaves out
// paths it does not know, and may describe no path it was not asked
// about, nor one twice.
func (c *serveConn) queryInfos(g *servedGraph, from, below int) error {
	size := 16 // the request's number and the set's count
	for _, p := range g.paths[from:below] {
		size += int(wireString(p))
	}
	w := serveWriter{buf: make([]byte, 0, size)}
	w.num(serveQueryInfos)
	w.strs(g.paths[from:below])
	for i := from; i < below; i++ {
		g.state[i] = pathAsked
	}
	if err := c.send(w); err != nil {
		return err
	}
	for {
		b, err := c.getBytes()
		if err != nil || len(b) == 0 {
			return err
		}
		id, ok := g.ids[string(b)]
		if !ok || g.state[id] != pathAsked {
			return fmt.Errorf("nix-store --serve: information about %q, which was not asked for or came twice", truncateForError(b))
		}
		if _, err = c.getBytes(); err != nil { // the deriver
			return err
		}
		at := len(g.edges)
		n, err := c.getInt()
		if err == nil && n > maxServeSet {
			err = fmt.Errorf("nix-store --serve: %d references of %s (at most %d expected)", n, g.paths[id], maxServeSet)
		}
		for ; err == nil && n > 0; n-- {
			var r int32
			if r, err = c.getPath(g); err == nil {
				g.edges = append(g.edges, r)
			}
		}
		var size uint64
		if err == nil {
			if _, err = c.getInt(); err == nil { // the download size
				size, err = c.getInt()
			}
		}
		if err == nil && size > 1<<62 {
			err = fmt.Errorf("nix-store --serve: NAR size %d of %s", size, g.paths[id])
		}
		if err != nil {
			return err
		}
		g.refs[id] = span{int32(at), int32(len(g.edges) - at)}
		g.size[id] = int64(size)
		g.state[id] = pathDescribed
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

// getPath reads a string that must name a store object and returns its
// number in g.
func (c *serveConn) getPath(g *servedGraph) (int32, error) {
	b, err := c.getBytes()
	if err != nil {
		return 0, err
	}
	return g.id(b)
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
