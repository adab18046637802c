package nix

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"nixdeck/internal/proc"
)

// progressStep is how many bytes pass between two progress reports.
const progressStep = 256 << 10

// member is one host receiving a shared stream: its serve session.
type member struct {
	s *serveSession
	c *counter
	// need are the paths of the stream the host lacks; nil means all.
	need map[string]bool
	err  error // why the host left the stream
	// root, when set, makes the host's GC root; it runs once every path
	// is acknowledged, before the session ends.
	root func() error
}

// localServeArgv reads this machine's store: NARs on request.
var localServeArgv = []string{"nix-store", "--serve"}

// source is the `nix-store --serve` on this machine that a copy reads
// NARs from. It is started as soon as one host is known to lack a path,
// while the other hosts are still answering and the paths' records are
// still being read: its start-up and greeting (tens of milliseconds, a
// process of its own) are then off the copy's path. A copy that sends
// nothing starts none.
type source struct {
	ctx   context.Context
	local Runner
	once  sync.Once
	s     *serveSession
	ready chan struct{} // closed once the greeting is exchanged
	err   error         // the greeting's failure, once ready is closed
}

// start starts the process and greets it in the background, once;
// callers may race.
func (src *source) start() {
	src.once.Do(func() {
		src.s = startServe(src.ctx, src.local, localServeArgv, false, proc.NoOutputLimit, nil)
		src.ready = make(chan struct{})
		go func() {
			defer close(src.ready)
			if err := src.s.handshake(); err != nil {
				src.err = fmt.Errorf("read paths from this machine's store: %w", err)
			}
		}()
	})
}

// greeted starts the process if need be and waits for its greeting.
func (src *source) greeted() error {
	src.start()
	<-src.ready
	return src.err
}

// stop ends a process that was started but will not be read from.
func (src *source) stop() {
	src.once.Do(func() {}) // none may start after this
	if src.s != nil {
		src.s.abort() // first: a source may never answer its greeting
		<-src.ready
	}
}

// sendGroup sends infos (dependency order) to the members: one local
// `nix-store --serve` reads each path's NAR once, and each path goes to
// the members that need it, all at once, as an add-to-store request
// followed by its NAR (a member's share of a dependency order is one
// too). Each member's session acknowledges every path it added; once all
// are, the session is closed. A member that fails keeps its own error.
func sendGroup(src *source, members []*member, infos []PathInfo) {
	acks := make([]chan error, len(members))
	fo := &fanout{}
	for i, m := range members {
		fo.outs = append(fo.outs, &fanoutPipe{w: m.s.in, c: m.c, need: m.need})
		acks[i] = make(chan error, 1)
		n := len(infos)
		if m.need != nil {
			n = len(m.need)
		}
		go func() { acks[i] <- m.readAcks(n) }()
	}
	srcErr := stream(src, fo, infos)
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ackErr error
			if srcErr != nil && fo.outs[i].err == nil {
				// The host is in the middle of a path that will never end.
				m.s.abort()
			} else {
				ackErr = <-acks[i]
			}
			var rootErr error
			if srcErr == nil && ackErr == nil && fo.outs[i].err == nil && m.root != nil {
				rootErr = m.root()
			}
			runErr := m.s.close()
			switch {
			case srcErr != nil && fo.outs[i].err == nil:
				m.err = srcErr // it was stopped for it
			case runErr != nil: // the host's own account comes first
				m.err = fmt.Errorf("import %d paths: %w", m.c.pathsAll, runErr)
			case ackErr != nil:
				m.err = fmt.Errorf("import %d paths: %w", m.c.pathsAll, ackErr)
			case fo.outs[i].err != nil:
				m.err = fmt.Errorf("import %d paths: %w", m.c.pathsAll, fo.outs[i].err)
			case rootErr != nil:
				m.err = rootErr
			default:
				m.c.finish()
			}
		}()
	}
	wg.Wait()
}

// stream reads infos' NARs from this machine's store through source and
// writes each path's request and NAR into fo. It returns why reading
// failed, or nil (also when every host dropped out: each has its own
// error).
func stream(source *source, fo *fanout, infos []PathInfo) error {
	if err := source.greeted(); err != nil {
		source.stop()
		return err
	}
	src := source.s
	read := false
	defer func() {
		if read {
			_ = src.close() // what it had to say, it said
		} else {
			src.abort()
		}
	}()
	go func() {
		// Every request at once: the server answers them in order.
		for _, info := range infos {
			if _, err := src.in.Write(dumpRequest(info.Path)); err != nil {
				return
			}
		}
	}()
	// Requests and NARs go out in whole SSH packets: a small write of its
	// own (a request, a NAR's start) costs the host's sshd as much as a
	// full one.
	bw := bufio.NewWriterSize(fo, sshPacket)
	for _, info := range infos {
		if fo.changes(info.Path) {
			// What is buffered goes to the hosts of the paths before.
			if bw.Flush() != nil {
				return nil
			}
			fo.route(info.Path)
		}
		if _, err := bw.Write(addToStoreHeader(info)); err != nil {
			return nil
		}
		err := copyNAR(bw, src.out.r, info)
		switch {
		case errors.Is(err, errNoImportLeft):
			return nil
		case err != nil:
			return fmt.Errorf("read %s from this machine's store: %w", info.Path, src.fail("dump path", err))
		}
	}
	if bw.Flush() == nil {
		read = true
	}
	return nil
}

// sshPacket is the data an SSH packet carries on a session channel
// (OpenSSH's CHAN_SES_PACKET_DEFAULT).
const sshPacket = 32 << 10

// copyNAR copies info's NAR (NarSize bytes) from r into w, checking that
// it starts as a NAR does: a store whose files no longer match its
// database would otherwise shift every following path.
func copyNAR(w io.Writer, r io.Reader, info PathInfo) error {
	head := make([]byte, len(narMagic))
	if info.NarSize < int64(len(head)) {
		return fmt.Errorf("the database gives it a NAR of %d bytes", info.NarSize)
	}
	if _, err := io.ReadFull(r, head); err != nil {
		return err
	}
	if !bytes.Equal(head, narMagic) {
		return errors.New("its NAR does not start as a NAR does (the store's files and database disagree?)")
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	_, err := io.CopyN(w, r, info.NarSize-int64(len(head)))
	return err
}

// readAcks reads the host's acknowledgement of each of n paths (the
// number 1 once a path is in its store).
func (m *member) readAcks(n int) error {
	for range n {
		v, err := m.s.out.num()
		if err != nil {
			return err
		}
		if v != 1 {
			return fmt.Errorf("nix-store --serve answered %d to an added path, not 1", v)
		}
		m.c.pathDone()
	}
	return nil
}

// counter turns bytes sent and paths acknowledged into CopyProgress.
type counter struct {
	mu       sync.Mutex
	progress func(CopyProgress)
	paths    int // acknowledged
	total    int64
	pathsAll int
	done     int64
	reported int64
}

// newCounter returns the counter for sending infos.
func newCounter(infos []PathInfo, progress func(CopyProgress)) *counter {
	c := &counter{progress: progress, pathsAll: len(infos)}
	for _, info := range infos {
		c.total += addToStoreSize(info)
	}
	return c
}

// add counts n bytes handed to the host's session.
func (c *counter) add(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done += int64(n)
	if c.progress != nil && c.done-c.reported >= progressStep {
		c.reported = c.done
		c.progress(CopyProgress{PathsDone: c.paths, PathsTotal: c.pathsAll, BytesDone: c.done, BytesTotal: c.total})
	}
}

// pathDone counts a path the host acknowledged.
func (c *counter) pathDone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths++
}

// sent returns the bytes handed to the host's session.
func (c *counter) sent() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// finish reports completion.
func (c *counter) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.progress != nil {
		c.progress(CopyProgress{PathsDone: c.paths, PathsTotal: c.pathsAll, BytesDone: c.done, BytesTotal: c.total})
	}
}
