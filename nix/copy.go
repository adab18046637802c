package nix

import (
	"bytes"
	"context"
	"errors"
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
	// Substituted counts paths the host fetched from its own caches.
	Substituted int
	// Bytes is the size of the export stream sent.
	Bytes int64
}

// maxArgBytes bounds the paths put on one local command line; Linux allows
// about 2 MiB for all arguments together.
const maxArgBytes = 256 << 10

// checkValidityScript reads store paths on stdin and prints those the host
// lacks: nix-store --check-validity takes its paths only as arguments, and a
// remote command line is capped at 128 KiB, so xargs builds them there.
const checkValidityScript = "xargs -r nix-store --check-validity --print-invalid"

// substituteScript lets the host realise the paths on stdin from its own
// binary caches; --keep-going so one unavailable path does not stop the rest.
const substituteScript = "xargs -r nix-store --realise --keep-going >/dev/null"

// Copy sends the closures of req.Paths from local to remote over remote's
// existing connection: ONE remote round trip finds the missing paths, then
// `nix-store --export` of exactly those streams into a remote
// `nix-store --import` (privileged: an import can add any store content, so
// it is root-equivalent). A second copy of the same closure sends nothing.
func Copy(ctx context.Context, local, remote Runner, req CopyRequest) (CopyResult, error) {
	var res CopyResult
	closure, err := Requisites(ctx, local, req.Paths)
	if err != nil {
		return res, err
	}
	res.Closure = len(closure)
	missing, err := Invalid(ctx, remote, closure)
	if err != nil {
		return res, err
	}
	if req.Substitute && len(missing) > 0 {
		argv := []string{"sh", "-c", substituteScript}
		err := remote.Run(ctx, Cmd{Argv: argv, Stdin: pathLines(missing), Privileged: true})
		var ee *ExitError
		if err != nil && !errors.As(err, &ee) { // only Nix's own failure is tolerated
			return res, fmt.Errorf("substitute on destination: %w", scriptError{"substitute", argv, err})
		}
		before := len(missing)
		if missing, err = Invalid(ctx, remote, missing); err != nil {
			return res, err
		}
		res.Substituted = before - len(missing)
	}
	res.Missing = missing
	if len(missing) == 0 {
		if req.Progress != nil {
			req.Progress(CopyProgress{})
		}
		return res, nil
	}
	infos, err := PathInfos(ctx, local, missing)
	if err != nil {
		return res, err
	}
	res.Bytes, err = sendPaths(ctx, local, remote, infos, req.Progress)
	return res, err
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
	Path       string
	NarSize    int64
	References []string
	Deriver    string
}

// ExportSize is the number of bytes `nix-store --export` writes for the
// path: a marker, the NAR, then the metadata as Nix wire strings.
func (p PathInfo) ExportSize() int64 {
	n := 8 + p.NarSize + 8 + wireString(p.Path) + 8 + wireString(p.Deriver) + 8
	for _, r := range p.References {
		n += wireString(r)
	}
	return n
}

// wireString is the size of s in Nix's serialisation: length, then the
// bytes padded to 8.
func wireString(s string) int64 { return 8 + int64((len(s)+7)/8*8) }

// PathInfos queries r about paths with `nix-store --dump-db PATHS` (Nix
// 2.8's `nix path-info` would take a .drv argument to mean its outputs),
// returned in the order of paths; long lists are split over several
// command lines.
func PathInfos(ctx context.Context, r Runner, paths []string) ([]PathInfo, error) {
	byPath := map[string]PathInfo{}
	for _, chunk := range argChunks(paths, maxArgBytes) {
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
