package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// CacheFetch is one request the cache's HTTP server answered, from its
// access log.
type CacheFetch struct {
	// Path is the request's path: /nix-cache-info, /HASH.narinfo,
	// /nar/FILEHASH.nar.xz.
	Path string `json:"path"`
	// Method is GET or HEAD (Nix asks for narinfo files with both).
	Method string `json:"method"`
	// Status is the HTTP status the server answered with.
	Status int `json:"status"`
	// Bytes is the size of the response body.
	Bytes int64 `json:"bytes"`
	// Remote is the client's address (127.0.0.1 for every lab host).
	Remote string `json:"remote"`
}

// Bounds of the access log CacheFetches reads: the lab's own file, but a
// long-running lab's log may grow large, and what is in it came from
// clients.
const (
	maxAccessLog     = 64 << 20
	maxAccessLogLine = 16 << 10
)

// CacheFetches returns the requests the cache's server has answered since
// the lab came up, oldest first.
func (l *Lab) CacheFetches() ([]CacheFetch, error) {
	c, err := l.Cache()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(c.AccessLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fetches, err := parseAccessLog(io.LimitReader(f, maxAccessLog+1))
	if err != nil {
		return nil, fmt.Errorf("lab: cache server access log %s: %w", c.AccessLog, err)
	}
	return fetches, nil
}

// parseAccessLog reads an access log written in the lab's format, at
// most maxAccessLog bytes of it. A last line without its newline is one
// that nginx is writing and is left out; any other line that is not a
// request is an error naming it.
func parseAccessLog(r io.Reader) ([]CacheFetch, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []CacheFetch
	var read int64
	for n := 1; ; n++ {
		line, err := readLine(br, maxAccessLogLine)
		read += int64(len(line))
		if read > maxAccessLog {
			return nil, fmt.Errorf("longer than %d MiB", maxAccessLog>>20)
		}
		if errors.Is(err, io.EOF) {
			return out, nil // nothing, or a line still being written
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		var f CacheFetch
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		err = dec.Decode(&f)
		if _, rest := dec.Token(); err != nil || !errors.Is(rest, io.EOF) || f.Status < 100 || f.Status > 599 || f.Bytes < 0 {
			return nil, fmt.Errorf("line %d: not a request in the lab's log format", n)
		}
		out = append(out, f)
	}
}

// readLine returns the next line with its newline, at most max bytes;
// io.EOF when the input ends before a newline.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, fmt.Errorf("longer than %d bytes", max)
		}
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}
