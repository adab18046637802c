package nix

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
)

// serveSession is one running `nix-store --serve` (on a host, or on this
// machine), spoken to through pipes while its Runner runs it.
type serveSession struct {
	in     *io.PipeWriter // its stdin
	out    serveReader    // its stdout
	outR   *io.PipeReader // under out
	cancel context.CancelFunc
	done   chan struct{} // closed once Run returned
	err    error         // what Run returned, once done is closed
}

// startServe starts argv (`nix-store --serve [--write]`) on r. It
// returns at once; a failure to start shows in the first exchange.
// maxOutput is the Cmd's MaxOutput: a host's session keeps the default
// bound (it only answers, and each answer is parsed with its own counts);
// this machine's export session streams whole NARs, so it has none.
// stderr, when set, gets the process's stderr (a host's substitution
// says there why a path did not come from its caches, see subst.go).
func startServe(ctx context.Context, r Runner, argv []string, privileged bool, maxOutput int64, stderr io.Writer) *serveSession {
	ctx, cancel := context.WithCancel(ctx)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &serveSession{in: inW, out: serveReader{bufio.NewReaderSize(outR, 64<<10)}, outR: outR, cancel: cancel, done: make(chan struct{})}
	go func() {
		s.err = r.Run(ctx, Cmd{Argv: argv, Stdin: inR, Stdout: outW, Stderr: stderr, Privileged: privileged, MaxOutput: maxOutput})
		// Neither side may wait on a process that is gone.
		inR.CloseWithError(errServeEnded)
		outW.CloseWithError(errServeEnded)
		close(s.done)
	}()
	return s
}

// errServeEnded is what reads and writes get once the process is gone.
var errServeEnded = errors.New("nix-store --serve ended")

// handshake exchanges the greetings. The greeting is written while the
// answer is read: something that is not nix-store --serve may well
// never read its input, and it must not hold us before we can tell.
// (The server answers once it has read the greeting's start, so our
// next request cannot overtake the rest of it: a pipe passes one write
// at a time.)
func (s *serveSession) handshake() error {
	go func() { _, _ = s.in.Write(greeting(serveVersion)) }()
	return s.fail("greeting", s.out.readGreeting())
}

// invalid asks which of paths are valid and returns those that are not,
// kept in order; lock and substitute as in queryValidRequest.
func (s *serveSession) invalid(paths []string, lock, substitute bool) ([]string, error) {
	if _, err := s.in.Write(queryValidRequest(paths, lock, substitute)); err != nil {
		return nil, s.fail("query valid paths", err)
	}
	valid, err := s.out.strs(len(paths))
	if err != nil {
		return nil, s.fail("query valid paths", err)
	}
	has := make(map[string]bool, len(valid))
	for _, p := range valid {
		has[p] = true
	}
	var missing []string
	for _, p := range paths {
		if !has[p] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// close ends the session: its stdin reaches EOF and the server exits; it
// returns what Run returned. Everything asked for has been read by then,
// so its stdout is closed too: a server that keeps talking instead of
// exiting (a hostile host) gets a write error rather than holding us.
func (s *serveSession) close() error {
	s.in.Close()
	s.outR.CloseWithError(errServeSaidMore)
	<-s.done
	s.cancel()
	return s.err
}

// errServeSaidMore is what a server writing after its last answer gets.
var errServeSaidMore = errors.New("nix-store --serve wrote more than it was asked for")

// abort stops the process and waits for it: its context is cancelled
// and its stdin and stdout cut (a runner waits for its output to be
// taken before it returns; nobody will take it now).
func (s *serveSession) abort() {
	s.cancel()
	s.in.CloseWithError(errServeAborted)
	s.outR.CloseWithError(errServeAborted)
	<-s.done
}

// errServeAborted is what a stopped session's stdin reads.
var errServeAborted = errors.New("nix-store --serve stopped")

// fail turns a failed exchange into an error: the process's own failure
// when it ended (its exit status and stderr say more than a broken pipe),
// else the protocol error, after stopping the process.
func (s *serveSession) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	if !errors.Is(err, errServeEnded) {
		// A server that said something unexpected is stopped, not waited for.
		s.abort()
		return fmt.Errorf("nix-store --serve: %s: %w", what, err)
	}
	<-s.done
	if s.err != nil {
		return s.err
	}
	return fmt.Errorf("nix-store --serve: %s: it exited early", what)
}
