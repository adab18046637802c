// Package tail keeps the end of a command's output for error messages.
// The transport (fleet/remote), nix/ and lab/ all need it and none of them
// imports another for it.
package tail

import (
	"strings"
	"sync"
)

// Buffer is an io.Writer that keeps the last Max bytes written to it. It is
// safe for concurrent writers (stdout and stderr copiers).
type Buffer struct {
	// Max is how many bytes to keep.
	Max int

	mu  sync.Mutex
	buf []byte
}

// NewBuffer returns a Buffer that keeps the last max bytes.
func NewBuffer(max int) *Buffer { return &Buffer{Max: max} }

// Write keeps the tail of everything written so far.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.Max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.Max:]...)
	}
	return len(p), nil
}

// String returns the bytes kept.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// LastLines returns the last n non-blank lines of s, joined by newlines.
func LastLines(s string, n int) string {
	var kept []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		kept = append(kept, l)
		if len(kept) > n {
			kept = kept[1:]
		}
	}
	return strings.Join(kept, "\n")
}
