package nix

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// limitedBuffer keeps a command's output up to max bytes. The first write
// past that fails and calls stop (which cancels the command), so a host
// that sends without end costs nixdeck max bytes and no more.
type limitedBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	max  int
	over bool
	stop func()
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over || b.buf.Len()+len(p) > b.max {
		if !b.over {
			b.over = true
			b.stop()
		}
		return 0, errOutputCap
	}
	return b.buf.Write(p)
}

var errOutputCap = fmt.Errorf("output cap reached")

// runLimited runs c through r and returns its standard output, at most max
// bytes of it: past that the command is stopped and the error is
// errOutputCap (see capError).
func runLimited(ctx context.Context, r Runner, c Cmd, max int) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &limitedBuffer{max: max, stop: cancel}
	c.Stdout = out
	err := r.Run(ctx, c)
	out.mu.Lock()
	defer out.mu.Unlock()
	if out.over {
		return nil, errOutputCap
	}
	if err != nil {
		return nil, err
	}
	return out.buf.Bytes(), nil
}

// capError says a host "sent more than N MiB <what>" (the caller adds
// the host's name).
func capError(max int, what string) error {
	return fmt.Errorf("sent more than %s %s", sizeCap(max), what)
}

// sizeCap writes a cap for an error message: "32 MiB", "256 KiB".
func sizeCap(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
