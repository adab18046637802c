package nix

import (
	"bytes"
	"io"
	"sync"
)

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

func multiWriter(ws ...io.Writer) io.Writer { return io.MultiWriter(ws...) }

// LineWriter returns a writer that calls fn once per complete line (without
// the newline); Flush delivers a final unterminated line. Safe for one writer
// goroutine at a time.
func LineWriter(fn func(line string)) *Lines {
	return &Lines{fn: fn}
}

// Lines splits a byte stream into lines; see LineWriter.
type Lines struct {
	fn      func(string)
	partial []byte
}

func (l *Lines) Write(p []byte) (int, error) {
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			return n, nil
		}
		if len(l.partial) > 0 {
			l.partial = append(l.partial, p[:i]...)
			l.fn(string(l.partial))
			l.partial = l.partial[:0]
		} else {
			l.fn(string(p[:i]))
		}
		p = p[i+1:]
	}
}

// Flush delivers a trailing line that had no newline.
func (l *Lines) Flush() {
	if len(l.partial) > 0 {
		l.fn(string(l.partial))
		l.partial = l.partial[:0]
	}
}
