package nix

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// CopyRequest says which closures to copy to a host.
type CopyRequest struct {
	// Paths are the roots (system store paths); their whole closures are copied.
	Paths []string
	// Substitute lets the host fetch what it can from its own binary caches
	// first (substitute_on_destination); failures there are tolerated.
	Substitute bool
	// Progress, when set, is called as the transfer advances (throttled) and
	// once at the end.
	Progress func(CopyProgress)
	// Root, when set, is made a GC root of Paths[0] on the host before the
	// copy's session ends (see gcroot.go), so that no garbage collection
	// there can take the closure before the profile holds it. It must be a
	// name in GCRootDir (GCRootPath). RemoveRoot drops it.
	Root string
}

// CopyProgress is how far a copy has got, for progress bars.
type CopyProgress struct {
	PathsDone, PathsTotal int
	BytesDone, BytesTotal int64
}

// CopyResult summarises a finished copy.
type CopyResult struct {
	// Closure is the number of paths in the closure.
	Closure int
	// Missing are the paths the host lacked after substitution, in
	// dependency order; exactly these were sent.
	Missing []string
	// FromCache counts paths the host fetched from its own caches
	// (substitute_on_destination) rather than from this machine.
	FromCache int
	// CacheProblem says why the host's caches did not provide what it
	// still lacked after substituting (SubstUntrusted, SubstUnreachable),
	// as its Nix said; "" when it did not substitute, lacked nothing
	// after, or Nix named no problem (the caches lack those paths).
	CacheProblem string
	// CacheDetail is the line in which Nix said so, sanitised for a
	// terminal and bounded.
	CacheDetail string
	// Bytes is the size of the export stream sent.
	Bytes int64
}

// maxArgBytes bounds the paths put on one local command line; Linux allows
// about 2 MiB for all arguments together.
const maxArgBytes = 256 << 10

// maxSourceArgBytes bounds the paths put on one command line of a copy's
// reading side, which may run on a builder over SSH (see fleet/source.go):
// there the whole command is one string for the remote shell, which Linux
// caps at 128 KiB (MAX_ARG_STRLEN), quoting included.
const maxSourceArgBytes = 64 << 10

// checkValidityScript reads store paths on stdin and prints those the host
// lacks: nix-store --check-validity takes its paths only as arguments, and a
// remote command line is capped at 128 KiB, so xargs builds them there.
const checkValidityScript = "xargs -r nix-store --check-validity --print-invalid"

// Copy sends the closures of req.Paths from local to remote over remote's
// existing connection, in one remote `nix-store --serve --write` session
// (privileged: adding store paths is root-equivalent): it finds the
// missing paths, then exactly those are sent. A second copy of the same
// closure sends nothing. It is CopyMany for one host.
func Copy(ctx context.Context, local, remote Runner, req CopyRequest) (CopyResult, error) {
	o := CopyMany(ctx, local, []CopyTarget{{Runner: remote, Progress: req.Progress}}, req)[0]
	return o.CopyResult, o.Err
}

// Requisites returns the closure of paths on r, dependencies first
// (nix-store -qR prints its result topologically sorted).
func Requisites(ctx context.Context, r Runner, paths []string) ([]string, error) {
	var out bytes.Buffer
	argv := append([]string{"nix-store", "--query", "--requisites"}, paths...)
	if err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out}); err != nil {
		return nil, fmt.Errorf("closure of %s: %w", strings.Join(paths, " "), err)
	}
	return strings.Fields(out.String()), nil
}

// Invalid returns the paths (kept in their order) that r's store lacks, in
// one command whatever the number of paths.
func Invalid(ctx context.Context, r Runner, paths []string) ([]string, error) {
	var out bytes.Buffer
	argv := []string{"sh", "-c", checkValidityScript}
	err := r.Run(ctx, Cmd{Argv: argv, Stdin: pathLines(paths), Stdout: &out})
	if err != nil {
		return nil, fmt.Errorf("check which paths the host lacks: %w", scriptError{"validity check", argv, err})
	}
	invalid := map[string]bool{}
	for _, p := range strings.Fields(out.String()) {
		invalid[p] = true
	}
	var missing []string
	for _, p := range paths {
		if invalid[p] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// PathInfo is what the store records about one path (its registration).
type PathInfo struct {
	Path string
	// NarHash is the SHA-256 of the path's NAR, in hexadecimal.
	NarHash    string
	NarSize    int64
	References []string
	Deriver    string
}

// PathInfos queries r about paths with `nix-store --dump-db PATHS` (Nix
// 2.8's `nix path-info` would take a .drv argument to mean its outputs),
// returned in the order of paths; long lists are split over several
// command lines, each short enough for a remote shell.
func PathInfos(ctx context.Context, r Runner, paths []string) ([]PathInfo, error) {
	byPath := map[string]PathInfo{}
	for _, chunk := range argChunks(paths, maxSourceArgBytes) {
		var out bytes.Buffer
		argv := append([]string{"nix-store", "--dump-db"}, chunk...)
		if err := r.Run(ctx, Cmd{Argv: argv, Stdout: &out}); err != nil {
			return nil, fmt.Errorf("path info: %w", err)
		}
		infos, err := parseDumpDB(out.String())
		if err != nil {
			return nil, fmt.Errorf("path info: %w", err)
		}
		for _, i := range infos {
			byPath[i.Path] = i
		}
	}
	res := make([]PathInfo, len(paths))
	for i, p := range paths {
		info, ok := byPath[p]
		if !ok {
			return nil, fmt.Errorf("path info: nothing known about %s", p)
		}
		res[i] = info
	}
	return res, nil
}

// argChunks splits paths into consecutive runs whose total length stays
// under max bytes (order kept, so dependency order survives chunking).
func argChunks(paths []string, max int) [][]string {
	var chunks [][]string
	var cur []string
	size := 0
	for _, p := range paths {
		if len(cur) > 0 && size+len(p)+1 > max {
			chunks = append(chunks, cur)
			cur, size = nil, 0
		}
		cur = append(cur, p)
		size += len(p) + 1
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// pathLines renders paths one per line, for a command's stdin.
func pathLines(paths []string) *strings.Reader {
	return strings.NewReader(strings.Join(paths, "\n") + "\n")
}
