package nix

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestCopyManyOverlapsItsStart: the host's session is started and
// greeted while this machine is still finding the closure, and this
// machine's store is opened for reading while the paths' records are
// still being read: neither waits on the other. Each local query here
// holds until what should overlap it has happened.
func TestCopyManyOverlapsItsStart(t *testing.T) {
	local, host := testStores(t)
	greeted, reading := make(chan struct{}), make(chan struct{})
	hostRunner := runnerFunc(func(ctx context.Context, c Cmd) error {
		c.Stdout = &firstWrite{w: c.Stdout, first: greeted}
		return host.Run(ctx, c)
	})
	localRunner := runnerFunc(func(ctx context.Context, c Cmd) error {
		wait := map[string]chan struct{}{"--query": greeted, "--dump-db": reading, "--serve": nil}[c.Argv[1]]
		if c.Argv[1] == "--serve" {
			close(reading)
		}
		if wait != nil {
			select {
			case <-wait:
			case <-time.After(time.Minute):
				t.Errorf("%v: what should overlap it did not happen", c.Argv)
			}
		}
		return local.Run(ctx, c)
	})
	out := CopyMany(context.Background(), localRunner, []CopyTarget{{Runner: hostRunner}}, CopyRequest{Paths: []string{pTop}})
	if out[0].Err != nil || !slices.Equal(host.added, []string{pMid, pTop}) {
		t.Errorf("%+v, added %v", out[0], host.added)
	}
}

// firstWrite closes first on the first write through it.
type firstWrite struct {
	w     io.Writer
	first chan struct{}
	once  sync.Once
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.first) })
	return f.w.Write(p)
}
