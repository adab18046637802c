package fleet

import (
	"context"
	"time"

	"nixdeck/nix"
)

// A system built on a builder lives in the builder's store until the
// rollout has sent it on to the targets, which may be long after the
// build operation ended (the diff, the confirmation, the waves). So its
// GC root there lasts as long as the Engine: Close removes it, the way
// a deploy removes its local rootDir when it is done.

// builderRoot is a GC root made on a builder.
type builderRoot struct {
	node *Node // the builder, as Builder.Node
	path string
}

// dropRootsTimeout bounds the removal of builder roots at Close.
const dropRootsTimeout = 30 * time.Second

// keepRoots records roots made on builder b for Close to remove.
func (e *Engine) keepRoots(b *Node, roots []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range roots {
		e.roots = append(e.roots, builderRoot{node: b, path: r})
	}
}

// dropRoots removes the builder roots, over the builders' connections
// while they are still open; a root it cannot remove is left to the
// builder's operator (it names an operation that is over).
func (e *Engine) dropRoots() {
	e.mu.Lock()
	roots := e.roots
	e.roots = nil
	e.mu.Unlock()
	if len(roots) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dropRootsTimeout)
	defer cancel()
	for _, r := range roots {
		if c, err := e.conn.Runner(ctx, r.node); err == nil {
			_ = nix.RemoveRoot(ctx, c, r.path)
		}
	}
}
