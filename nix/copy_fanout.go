package nix

import (
	"errors"
	"io"
	"sync"
)

// fanout is the writer one `nix-store --export` writes into: it hands
// every write to all the imports still in the stream, in parallel, and
// returns once each has taken it. It holds no buffer of its own, so
// memory stays bounded (one write, whatever the number of hosts) and the
// stream runs at the pace of its slowest import: a slow host slows its
// group rather than have the others' data pile up for it. A host that is
// stuck rather than slow holds its group until its import fails or its
// connection is declared dead (keepalives); then it drops out and the
// stream goes on for the others.
//
// Write and close are called from one goroutine at a time: the export's
// output copier, then the caller once the export has ended.
type fanout struct {
	outs     []*fanoutPipe
	noneLeft func() // called when the last import dropped out
}

// fanoutPipe is one import's input; err is set once a write to it failed.
type fanoutPipe struct {
	w   *io.PipeWriter
	err error
}

// errNoImportLeft ends the export when every import has dropped out.
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
			_, o.err = o.w.Write(p)
		}()
	}
	if len(live) > 0 {
		_, live[0].err = live[0].w.Write(p)
	}
	wg.Wait()
	for _, o := range live {
		if o.err == nil {
			return len(p), nil
		}
	}
	f.noneLeft()
	return 0, errNoImportLeft
}

// close ends every import's input: at its end when err is nil, else with err.
func (f *fanout) close(err error) {
	for _, o := range f.outs {
		o.w.CloseWithError(err) // nil closes with io.EOF
	}
}
