package nix

import (
	"errors"
	"io"
	"sync"
)

// fanout is the writer a shared stream is written into: it hands every
// write to the hosts that need the path being written and are still in
// the stream, in parallel, and returns once each has taken it. It holds
// no buffer of its own, so memory stays bounded (one write, whatever the
// number of hosts) and the stream runs at the pace of its slowest import:
// a slow host slows the stream rather than have the others' data pile up
// for it. A host that is stuck rather than slow holds the stream until
// its import fails or its connection is declared dead (keepalives); then
// it drops out and the stream goes on for the others.
//
// Write and route are called from one goroutine (the stream's reader).
type fanout struct {
	outs []*fanoutPipe
}

// fanoutPipe is one host's input; err is set once a write to it failed.
type fanoutPipe struct {
	w   *io.PipeWriter
	c   *counter // counts what the host took
	err error
	// need says which paths the host lacks; nil means every path of the
	// stream. off: it does not get the path being written now.
	need map[string]bool
	off  bool
}

// write passes p on and counts it.
func (o *fanoutPipe) write(p []byte) {
	var n int
	n, o.err = o.w.Write(p)
	o.c.add(n)
}

// errNoImportLeft ends the stream when every host has dropped out.
var errNoImportLeft = errors.New("no import left to stream to")

// changes reports whether the hosts that need path differ from those the
// writes go to now. The writer flushes what it holds for those first,
// then calls route.
func (f *fanout) changes(path string) bool {
	for _, o := range f.outs {
		if o.off == o.wants(path) {
			return true
		}
	}
	return false
}

// route makes the writes that follow go to the hosts that need path.
func (f *fanout) route(path string) {
	for _, o := range f.outs {
		o.off = !o.wants(path)
	}
}

func (o *fanoutPipe) wants(path string) bool { return o.need == nil || o.need[path] }

// Write passes p to every import that needs it and is still in the
// stream. A path no host left in the stream needs is read and dropped;
// once no host at all is left, the stream ends.
func (f *fanout) Write(p []byte) (int, error) {
	var live []*fanoutPipe
	for _, o := range f.outs {
		if !o.off && o.err == nil {
			live = append(live, o)
		}
	}
	var wg sync.WaitGroup
	for _, o := range live[min(1, len(live)):] {
		wg.Go(func() { o.write(p) })
	}
	if len(live) > 0 {
		live[0].write(p)
	}
	wg.Wait()
	for _, o := range f.outs {
		if o.err == nil {
			return len(p), nil
		}
	}
	return 0, errNoImportLeft
}
