package nix

import (
	"context"
	"errors"
	"strconv"
	"sync"
)

// separateBuilds bounds the builds buildEach runs at once: each is a Nix
// evaluation of a whole system, and Nix serialises the shared dependencies
// through its locks anyway.
const separateBuilds = 4

// buildEach builds every distinct attribute of req on its own, after
// building them together produced nothing: a node whose attribute does not
// evaluate (or whose system does not build) then fails alone, with the
// error of its own build, and the others get their systems. Each build has
// its own out-links in RootDir, so their gc roots do not replace each other.
func buildEach(ctx context.Context, r Runner, req BuildRequest) (map[string]string, error) {
	_, attrs := req.order()
	var (
		mu    sync.Mutex
		built = map[string]string{}
		errs  = make([]error, len(attrs))
		wg    sync.WaitGroup
		slots = make(chan struct{}, separateBuilds)
	)
	if log := req.Log; log != nil {
		// The builds run side by side; the caller's callback sees one
		// line at a time, as from a single build.
		var logMu sync.Mutex
		req.Log = func(line string) {
			logMu.Lock()
			defer logMu.Unlock()
			log(line)
		}
	}
	for i, a := range attrs {
		sub := req
		sub.Attrs = map[string]string{}
		for n, na := range req.Attrs {
			if na == a {
				sub.Attrs[n] = a
			}
		}
		sub.linkName = "attr-" + strconv.Itoa(i)
		wg.Go(func() {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				nodes, _ := sub.order()
				errs[i] = &BuildError{Nodes: nodes, Phase: "build", Err: ctx.Err()}
				return
			}
			defer func() { <-slots }()
			m, err := buildTogether(ctx, r, sub)
			errs[i] = err
			mu.Lock()
			for n, p := range m {
				built[n] = p
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return built, errors.Join(errs...)
}
