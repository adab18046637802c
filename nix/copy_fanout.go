package nix

import (
	"errors"
	"io"
	"sync"
)

// fanout is the writer a group's stream is written into: it hands
// every write to all the hosts still in the stream, in parallel, and
// returns once each has taken it. It holds no buffer of its own, so
// memory stays bounded (one write, whatever the number of hosts) and the
// stream runs at the pace of its slowest import: a slow host slows its
// group rather than have the others' data pile up for it. A host that is
// stuck rather than slow holds its group until its import fails or its
// connection is declared dead (keepalives); then it drops out and the
// stream goes on for the others.
//
// Write is called from one goroutine (the stream's reader).
type fanout struct {
	outs []*fanoutPipe
}

// fanoutPipe is one host's input; err is set once a write to it failed.
type fanoutPipe struct {
	w   *io.PipeWriter
	c   *counter // counts what the host took
	err error
}

// write passes p on and counts it.
func (o *fanoutPipe) write(p []byte) {
	var n int
	n, o.err = o.w.Write(p)
	o.c.add(n)
}

// errNoImportLeft ends the stream when every host has dropped out.
var errNoImportLeft = errors.New("no import left to stream to")

// Write passes p to every import still in the stream.
func (f *fanout) Write(p []byte) (int, error) {
	var live []*fanoutPipe
	for _, o := range f.outs {
		if o.err == nil {
			live = append(live, o)
		}
	}
	var wg sync.WaitGroup
	for _, o := range live[min(1, len(live)):] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.write(p)
		}()
	}
	if len(live) > 0 {
		live[0].write(p)
	}
	wg.Wait()
	for _, o := range live {
		if o.err == nil {
			return len(p), nil
		}
	}
	return 0, errNoImportLeft
}
