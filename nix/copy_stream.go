package nix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

// progressStep is how many bytes pass between two progress reports.
const progressStep = 256 << 10

// member is one host receiving a shared export stream.
type member struct {
	runner Runner
	c      *counter
	err    error // why the host left the stream; it takes no further part
}

// sendGroup streams `nix-store --export` of infos (dependency order) from
// local into `nix-store --import` on every member, one export per
// argument chunk, in order, so every chunk's references already arrived.
// A member that fails keeps its error and is left out of later chunks.
func sendGroup(ctx context.Context, local Runner, members []*member, infos []PathInfo) {
	for _, chunk := range argChunks(infoPaths(infos), maxArgBytes) {
		var live []*member
		for _, m := range members {
			if m.err == nil {
				live = append(live, m)
			}
		}
		if len(live) == 0 {
			return
		}
		exportFanout(ctx, local, live, chunk)
	}
	for _, m := range members {
		if m.err == nil {
			m.c.finish()
		}
	}
}

func infoPaths(infos []PathInfo) []string {
	p := make([]string, len(infos))
	for i, info := range infos {
		p[i] = info.Path
	}
	return p
}

// exportFanout pipes one local export into one import per member. An
// import that fails drops out of the fan-out; the export is stopped
// (its context cancelled: blocked on a full pipe it would never exit)
// only when no import is left. A failed export fails every member still
// in it: their imports see the stream end early.
func exportFanout(ctx context.Context, local Runner, members []*member, paths []string) {
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	fo := &fanout{noneLeft: cancel}
	imports := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		pr, pw := io.Pipe()
		fo.outs = append(fo.outs, &fanoutPipe{w: pw})
		wg.Add(1)
		go func() {
			defer wg.Done()
			imports[i] = m.runner.Run(ctx, Cmd{
				Argv:       []string{"nix-store", "--import"},
				Stdin:      &countingReader{r: pr, c: m.c},
				Stdout:     io.Discard,
				Privileged: true,
			})
			// The import reads no more: a write waiting for it must return.
			pr.CloseWithError(errImportEnded)
		}()
	}
	argv := append([]string{"nix-store", "--export"}, paths...)
	exportErr := local.Run(ectx, Cmd{Argv: argv, Stdout: fo})
	if exportErr != nil {
		exportErr = fmt.Errorf("export %d paths: %w", len(paths), exportErr)
	}
	fo.close(exportErr)
	wg.Wait()
	exportFailed := exportErr != nil && ectx.Err() == nil
	for i, m := range members {
		switch ierr := imports[i]; {
		case exportFailed && ierr != nil:
			m.err = fmt.Errorf("%w (import: %v)", exportErr, ierr)
		case exportFailed:
			m.err = exportErr
		case ierr != nil:
			m.err = fmt.Errorf("import %d paths: %w", len(paths), ierr)
		case fo.outs[i].err != nil:
			// The import exited 0 without reading the whole stream.
			m.err = fmt.Errorf("import %d paths: %w", len(paths), fo.outs[i].err)
		case ctx.Err() != nil:
			m.err = ctx.Err()
		}
	}
}

// errImportEnded is what a write to an import that already exited gets.
var errImportEnded = errors.New("nix-store --import ended before the export stream did")

// counter turns bytes read into CopyProgress. Paths done are estimated from
// the byte offsets where each path's export ends (Nix may reorder paths
// within a topological order, so this is exact only at the end).
type counter struct {
	mu       sync.Mutex
	progress func(CopyProgress)
	ends     []int64
	total    int64
	done     int64
	paths    int
	reported int64
}

// newCounter returns the counter for sending infos (dependency order) in
// argument chunks, one export per chunk.
func newCounter(infos []PathInfo, progress func(CopyProgress)) *counter {
	c := &counter{progress: progress, ends: make([]int64, len(infos))}
	for i, info := range infos {
		c.total += info.ExportSize()
		c.ends[i] = c.total
	}
	c.total += 8 * int64(len(argChunks(infoPaths(infos), maxArgBytes))) // one end marker per export
	return c
}

func (c *counter) add(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done += int64(n)
	for c.paths < len(c.ends) && c.ends[c.paths] <= c.done {
		c.paths++
	}
	if c.progress != nil && c.done-c.reported >= progressStep {
		c.reported = c.done
		c.progress(CopyProgress{PathsDone: c.paths, PathsTotal: len(c.ends), BytesDone: c.done, BytesTotal: c.total})
	}
}

// sent returns the bytes that reached the import.
func (c *counter) sent() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// finish reports completion; the estimate of the total is replaced by what
// was actually sent.
func (c *counter) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = len(c.ends)
	if c.progress != nil {
		c.progress(CopyProgress{PathsDone: c.paths, PathsTotal: len(c.ends), BytesDone: c.done, BytesTotal: c.done})
	}
}

// countingReader counts the bytes that pass through it.
type countingReader struct {
	r io.Reader
	c *counter
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.c.add(n)
	return n, err
}
