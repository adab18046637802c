package nix

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// progressStep is how many bytes pass between two progress reports.
const progressStep = 256 << 10

// sendPaths streams `nix-store --export` of infos (dependency order) from
// local into `nix-store --import` on remote, one export/import pair per
// argument chunk, in order, so every chunk's references already arrived.
// It returns the bytes sent.
func sendPaths(ctx context.Context, local, remote Runner, infos []PathInfo, progress func(CopyProgress)) (int64, error) {
	c := &counter{progress: progress}
	c.ends = make([]int64, len(infos))
	for i, info := range infos {
		c.total += info.ExportSize()
		c.ends[i] = c.total
	}
	c.total += 8 * int64(len(argChunks(infoPaths(infos), maxArgBytes))) // one end marker per export
	paths := infoPaths(infos)
	for _, chunk := range argChunks(paths, maxArgBytes) {
		if err := exportImport(ctx, local, remote, chunk, c); err != nil {
			return c.done, err
		}
	}
	c.finish()
	return c.done, nil
}

func infoPaths(infos []PathInfo) []string {
	p := make([]string, len(infos))
	for i, info := range infos {
		p[i] = info.Path
	}
	return p
}

// exportImport pipes one local export into one remote import. If either
// side fails the other is stopped: the export's context is cancelled (an
// export blocked on a full pipe would otherwise never exit) and the import's
// stdin is closed with the export's error.
func exportImport(ctx context.Context, local, remote Runner, paths []string, c *counter) error {
	pr, pw := io.Pipe()
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var exportErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		argv := append([]string{"nix-store", "--export"}, paths...)
		exportErr = local.Run(ectx, Cmd{Argv: argv, Stdout: pw})
		if exportErr != nil {
			exportErr = fmt.Errorf("export %d paths: %w", len(paths), exportErr)
		}
		pw.CloseWithError(exportErr) // nil closes with io.EOF
	}()
	importErr := remote.Run(ctx, Cmd{
		Argv:       []string{"nix-store", "--import"},
		Stdin:      &countingReader{r: pr, c: c},
		Stdout:     io.Discard,
		Privileged: true,
	})
	if importErr != nil {
		cancel()
	}
	pr.CloseWithError(io.ErrClosedPipe)
	wg.Wait()
	if exportErr != nil && ctx.Err() == nil && importErr == nil {
		return exportErr
	}
	if importErr != nil {
		if exportErr != nil && ectx.Err() == nil {
			return fmt.Errorf("%w (import: %v)", exportErr, importErr)
		}
		return fmt.Errorf("import %d paths: %w", len(paths), importErr)
	}
	return exportErr
}

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
