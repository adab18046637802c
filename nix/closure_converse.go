package nix

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"sync"
)

// converse runs cmd through r with talk on the other end of its stdin and
// stdout: talk writes requests and reads what the command prints, at most
// max bytes of it. When talk returns, stdin is closed (nix-store --serve
// ends at EOF). A reply that breaks the protocol stops the command; one
// that ends early means the command ended, and its own error (with its
// stderr) says more.
func converse(ctx context.Context, r Runner, cmd Cmd, max int, talk func(c *serveConn) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// OS pipes, not io.Pipe: a local nix-store reads and writes them
	// itself, with no goroutine copying in between.
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	defer outR.Close()
	cmd.Stdin, cmd.Stdout = inR, outW
	cmd.MaxOutput = int64(max) + stderrAllowance
	ran := make(chan error, 1)
	go func() {
		err := r.Run(ctx, cmd)
		// Our ends are closed too: the reader sees EOF, a blocked writer EPIPE.
		outW.Close()
		inR.Close()
		ran <- err
	}()
	out := &capReader{r: outR, left: max}
	var hungUp sync.Once
	hangUp := func() { hungUp.Do(func() { inW.Close() }) }
	err = talk(&serveConn{w: bufio.NewWriterSize(inW, 64<<10), in: serveReader{bufio.NewReaderSize(out, 64<<10)}, hangUp: hangUp})
	hangUp()
	var endedErr *endedError
	ended := errors.As(err, &endedErr)
	if err == nil {
		// Whatever follows the last reply is read, not left to block the command.
		_, err = io.Copy(io.Discard, out)
	} else if !ended {
		cancel()
		// A command still writing stops at once.
		outR.Close()
	}
	runErr := <-ran
	if runErr != nil && (err == nil || ended) {
		return runErr
	}
	return err
}

// capReader reads at most left bytes, then fails with errOutputCap.
type capReader struct {
	r    io.Reader
	left int
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errOutputCap
	}
	n, err := c.r.Read(p[:min(len(p), c.left)])
	c.left -= n
	return n, err
}
