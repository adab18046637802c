package nix

import (
	"bytes"
	"context"
	"fmt"
	"nixdeck/internal/limit"
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

// stderrAllowance is what runLimited lets a command write to stderr on
// top of its stdout cap.
const stderrAllowance = 1 << 20

// runLimited runs c through r and returns its standard output, at most max
// bytes of it: past that the command is stopped and the error is
// errOutputCap (see capError).
func runLimited(ctx context.Context, r Runner, c Cmd, max int) ([]byte, error) {
	// The transport bounds stdout and stderr together (Cmd.MaxOutput, 16 MiB
	// by default); let it pass max bytes of stdout plus an error's worth of
	// stderr, so that this cap, with its own message, is the one a
	// flooding stdout meets.
	c.MaxOutput = int64(max) + stderrAllowance
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
	return fmt.Errorf("sent more than %s %s", limit.Text(int64(max)), what)
}
