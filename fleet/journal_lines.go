package fleet

import (
	"bytes"
	"fmt"
)

// cutLines splits a stream into lines for fn, keeping at most max bytes
// of each: the rest of a longer line is dropped as it comes, and counted
// in a note at its end, so a host that never sends a newline makes it
// hold no more than max bytes. nix.LineWriter cuts a long line into
// pieces instead, all kept; a tail wants one line per line. Safe for one
// writer goroutine.
type cutLines struct {
	fn  func(string)
	max int
	buf []byte
	cut int // bytes of the current line dropped
}

func newCutLines(max int, fn func(string)) *cutLines { return &cutLines{fn: fn, max: max} }

// Write passes every complete line of p on, holding the start of an
// unfinished one.
func (c *cutLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		part := p
		if i >= 0 {
			part = p[:i]
		}
		room := c.max - len(c.buf)
		if len(part) > room {
			c.buf = append(c.buf, part[:room]...)
			c.cut += len(part) - room
		} else {
			c.buf = append(c.buf, part...)
		}
		if i < 0 {
			break
		}
		c.emit()
		p = p[i+1:]
	}
	return n, nil
}

// Flush passes on an unfinished last line.
func (c *cutLines) Flush() {
	if len(c.buf) > 0 || c.cut > 0 {
		c.emit()
	}
}

func (c *cutLines) emit() {
	line := string(c.buf)
	if c.cut > 0 {
		line = fmt.Sprintf("%s … (%d more bytes cut)", line, c.cut)
	}
	c.buf, c.cut = c.buf[:0], 0
	c.fn(line)
}
