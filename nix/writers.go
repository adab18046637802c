package nix

import (
	"bytes"
)

// LineWriter returns a writer that calls fn once per complete line (without
// the newline); Flush delivers a final unterminated line. A line longer than
// maxLine is delivered in maxLine pieces, so a host that never sends a
// newline cannot make it hold more. Safe for one writer goroutine at a time.
func LineWriter(fn func(line string)) *Lines {
	return &Lines{fn: fn}
}

// maxLine bounds a line LineWriter holds; log lines are far shorter.
const maxLine = 64 << 10

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
			for len(l.partial)+len(p) > maxLine {
				cut := maxLine - len(l.partial)
				l.fn(string(append(l.partial, p[:cut]...)))
				l.partial, p = l.partial[:0], p[cut:]
			}
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
