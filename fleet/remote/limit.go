package remote

import (
	"io"
	"sync"
	"sync/atomic"

	"nixdeck/internal/proc"
)

// What a host sends besides a command's output is bounded below this
// package, by x/crypto/ssh: packets of at most 256 KiB, a 2 MiB window per
// channel (the host cannot send faster than Run drains), extended data
// other than stderr discarded with its window credited back, channel and
// global requests from the server refused one at a time, and a keepalive
// reply read and dropped, one outstanding at a time (keepalive.go).

// outputLimit counts what one command sends on stdout and stderr together.
// It passes on at most max bytes; past that it drops the rest, so that the
// channel keeps draining (x/crypto's Wait needs it) while the command is
// stopped, and closes over. Memory stays bounded whatever the host sends:
// the SSH channel window caps what is in flight, and nothing is kept here.
type outputLimit struct {
	max  int64 // negative: no bound
	n    atomic.Int64
	over chan struct{}
	once sync.Once
}

// newOutputLimit returns the limit for a command's MaxOutput.
func newOutputLimit(max int64) *outputLimit {
	if max == 0 {
		max = proc.DefaultMaxOutput
	}
	return &outputLimit{max: max, over: make(chan struct{})}
}

// exceeded reports whether the command sent more than max bytes.
func (l *outputLimit) exceeded() bool {
	select {
	case <-l.over:
		return true
	default:
		return false
	}
}

// writer returns a writer to w that counts against the limit.
func (l *outputLimit) writer(w io.Writer) io.Writer { return &limitWriter{l: l, w: w} }

// limitWriter is one stream's side of an outputLimit.
type limitWriter struct {
	l *outputLimit
	w io.Writer
}

// Write passes p on while the total stays within the limit: the part of p
// that still fits, nothing after.
func (lw *limitWriter) Write(p []byte) (int, error) {
	l := lw.l
	if l.max < 0 {
		return lw.w.Write(p)
	}
	// Add gives each write its own interval of the total, so the two
	// streams' writers agree on which bytes fit without a lock.
	end := l.n.Add(int64(len(p)))
	if end <= l.max {
		return lw.w.Write(p)
	}
	l.once.Do(func() { close(l.over) })
	if fit := l.max - (end - int64(len(p))); fit > 0 {
		if _, err := lw.w.Write(p[:fit]); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
